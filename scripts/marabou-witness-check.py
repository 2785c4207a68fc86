#!/usr/bin/env python3
"""Referee check of Marabou against ppnn's counterexamples (issue 12's Marabou comparison).

For each instance (network, input, eps) that `ppnn verify` answers `violated`, this takes
ppnn's witness and asks three independent things:
  1. onnxruntime (f32, the model file as written): is the witness inside the L-inf box
     [x - eps, x + eps] ∩ [0, 1] and does the competitor reach the class there?
  2. Marabou 2.0, the same query as scripts/bench-marabou.py (box, y_c - y_j <= 0): sat?
  3. Marabou on the box shrunk to the witness alone: sat?
A `robust`/`unsat` from Marabou in 2. while 1. and 3. confirm the witness is an unsound answer.

  python3 -m pip install maraboupy==2.0.0 onnx onnxruntime
  scripts/marabou-witness-check.py NETWORK.onnx EPS INPUT.csv [INPUT.csv ...]
"""
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def marabou(model, lo, hi, c, j):
    from maraboupy import Marabou

    n = Marabou.read_onnx(model)
    iv = n.inputVars[0].flatten()
    ov = n.outputVars[0].flatten()
    for i, v in enumerate(iv):
        n.setLowerBound(v, float(lo[i]))
        n.setUpperBound(v, float(hi[i]))
    n.addInequality([ov[c], ov[j]], [1.0, -1.0], 0.0)
    opts = Marabou.createOptions(verbosity=0, timeoutInSeconds=120, numWorkers=1)
    res, _, _ = n.solve(options=opts, verbose=False)
    return res


def main():
    import onnxruntime as ort

    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    model, eps, inputs = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    ppnn = os.path.join(os.environ.get("CARGO_TARGET_DIR", "/var/tmp/ppnn-target"), "release/ppnn")
    sess = ort.InferenceSession(model)
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    for path in inputs:
        out = subprocess.run([ppnn, "verify", model, path, "--radius", str(eps), "--timeout", "60", "--json"],
                             capture_output=True, text=True)
        d = json.loads(out.stdout)
        name = os.path.basename(path)
        if d["verdict"] != "violated":
            print(f"{name}: ppnn {d['verdict']}, nothing to check")
            continue
        x0 = np.array([float(v) for v in open(path).read().replace(",", " ").split()])
        lo, hi = np.maximum(0.0, x0 - eps), np.minimum(1.0, x0 + eps)
        w = np.array(d["witness"]["x"])
        c, j = d["class"], d["witness"]["competitor"]
        inside = bool(np.all(w >= lo) and np.all(w <= hi))
        y = sess.run(None, {inp.name: w.astype(np.float32).reshape(shape)})[0].flatten()
        box = marabou(model, lo, hi, c, j)
        point = marabou(model, w, w, c, j)
        unsound = box == "unsat" and inside and y[j] >= y[c] and point == "sat"
        print(f"{name}: class {c}, competitor {j}; onnxruntime at the witness: y_c {y[c]:.4f}, y_j {y[j]:.4f}, "
              f"inside the box: {inside}; Marabou on the box: {box}; on the witness alone: {point}"
              + ("  <- Marabou UNSOUND" if unsound else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
