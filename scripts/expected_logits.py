#!/usr/bin/env python3
"""Write data/networks/NAME.expected.json for every bundled network.

    python3 scripts/expected_logits.py [NETWORK.onnx ...]

Without arguments: every data/networks/*.onnx. For each network NAME (file stem,
e.g. mnist-784-32-10) the dataset is taken from the name prefix (mnist- or
fmnist-) and five bundled inputs of that dataset are used: data/inputs/DS/0-1.csv,
2-2.csv, 4-3.csv, 6-4.csv and 8-5.csv. The logits are computed in float64 from the
float32 weights as stored in the ONNX file (read back with onnx.numpy_helper)
applied to the input exactly as written in the CSV (parsed back), so they are an
independent reference for an implementation reading the same two files:

    {"network": NAME, "inputs": [{"file": "data/inputs/mnist/0-1.csv",
                                  "logits": [10 float64 values]}, ...]}

Floats are written by Python's json module (shortest round-trip repr).
Run it after scripts/make-inputs.py, since it depends on the inputs.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ppnn_data  # noqa: E402

FILES = ["0-1.csv", "2-2.csv", "4-3.csv", "6-4.csv", "8-5.csv"]


def dataset_of(name):
    for ds in sorted(ppnn_data.DATASETS, key=len, reverse=True):
        if name.startswith(ds + "-"):
            return ds
    raise SystemExit(f"{name}: cannot tell the dataset from the name (mnist-/fmnist-)")


def forward_exact(layers, x):
    """float64 forward pass (numpy float64 matmul, weights widened exactly from
    float32). Another float64 implementation may sum in a different order, so
    compare with a small tolerance (differences are around 1e-14 relative)."""
    return ppnn_data.forward(layers, x, np.float64)


def main():
    root = ppnn_data.REPO_ROOT
    nets = [Path(p) for p in sys.argv[1:]] or sorted((root / "data" / "networks").glob("*.onnx"))
    for net in nets:
        net = net.resolve()
        name = net.stem
        ds = dataset_of(name)
        layers = ppnn_data.load_onnx_mlp(net)
        entries = []
        for f in FILES:
            path = root / "data" / "inputs" / ppnn_data.DATASETS[ds][1] / f
            x = ppnn_data.read_input_csv(path)
            logits = forward_exact(layers, x)
            entries.append({"file": path.relative_to(root).as_posix(),
                            "logits": [float(v) for v in logits]})
        out = net.with_name(f"{name}.expected.json")
        doc = {"network": name, "inputs": entries}
        with open(out, "w") as fh:
            # one input per line: small diffs, still plain JSON
            fh.write('{"network": %s, "inputs": [\n' % json.dumps(name))
            fh.write(",\n".join("  " + json.dumps(e) for e in entries))
            fh.write("\n]}\n")
        assert json.loads(out.read_text()) == doc
        preds = [int(np.argmax(e["logits"])) for e in entries]
        print(f"[expected_logits] {out.relative_to(root)}: argmax {preds}")


if __name__ == "__main__":
    main()
