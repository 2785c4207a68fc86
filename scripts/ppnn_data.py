"""Shared helpers of the data scripts (IDX reading, ONNX MLP reading, CSV inputs).

Imported by train_mlp.py, make-inputs.py and expected_logits.py, which set the
BLAS thread limits *before* importing this module (it imports numpy).
"""
import os
import struct
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent

# dataset key -> (directory under datasets/, directory under data/inputs/)
DATASETS = {
    "mnist": ("mnist", "mnist"),
    "fmnist": ("fashion-mnist", "fmnist"),
}
# The network whose predictions select the bundled inputs of each dataset.
PAPER_NETWORK = {
    "mnist": "mnist-784-32-10",
    "fmnist": "fmnist-784-64-10",
}


def datasets_dir(arg=None):
    if arg:
        return Path(arg)
    env = os.environ.get("PPNN_DATASETS")
    return Path(env) if env else REPO_ROOT / "datasets"


def read_idx(path):
    """Read an uncompressed IDX file (ubyte images or labels) into a uint8 array."""
    data = Path(path).read_bytes()
    magic, = struct.unpack(">I", data[:4])
    if magic >> 8 != 0x08:  # 0x08 = unsigned byte
        raise ValueError(f"{path}: not a ubyte IDX file (magic {magic:#010x})")
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: size {arr.size} does not match dims {dims}")
    return arr.reshape(dims)


def load_split(dataset, split, root=None):
    """Return (images uint8 [n,784], labels uint8 [n]) of split 'train' or 't10k'."""
    d = datasets_dir(root) / DATASETS[dataset][0]
    images = d / f"{split}-images-idx3-ubyte"
    labels = d / f"{split}-labels-idx1-ubyte"
    if not images.exists():
        raise SystemExit(f"{images} not found: run scripts/fetch-datasets.sh first")
    x = read_idx(images)
    y = read_idx(labels)
    return x.reshape(x.shape[0], -1), y


def load_onnx_mlp(path):
    """Read an MatMul/Add/Relu MLP back from an ONNX file.

    Returns a list of (W [in,out], b [out]) float32 arrays in layer order, found by
    following the graph from `input` to `logits`, so it is an independent check of
    the file rather than of the trainer's in-memory weights.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    g = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    layers = []
    cur = g.input[0].name
    w = None
    for node in g.node:
        if node.op_type == "MatMul":
            assert node.input[0] == cur, (node.name, cur)
            w = inits[node.input[1]]
        elif node.op_type == "Add":
            assert node.input[0] == cur and w is not None, node.name
            layers.append((w, inits[node.input[1]]))
            w = None
        elif node.op_type == "Relu":
            assert node.input[0] == cur, node.name
        else:
            raise ValueError(f"unexpected op {node.op_type}")
        cur = node.output[0]
    assert cur == g.output[0].name
    for (w, b) in layers:
        assert w.dtype == np.float32 and b.dtype == np.float32
    return layers


def forward(layers, x, dtype):
    """Forward pass with every operation in `dtype` (np.float32 or np.float64)."""
    h = np.asarray(x, dtype=dtype)
    for i, (w, b) in enumerate(layers):
        h = h @ w.astype(dtype) + b.astype(dtype)
        if i + 1 < len(layers):
            h = np.maximum(h, 0)
    return h


def format_value(v):
    """Shortest text that parses back to exactly the same double."""
    return repr(float(v))


def write_input_csv(path, values):
    """28 lines of 28 space-separated values."""
    v = np.asarray(values, dtype=np.float64).reshape(28, 28)
    with open(path, "w") as f:
        for row in v:
            f.write(" ".join(format_value(x) for x in row) + "\n")


def read_input_csv(path):
    rows = [line.split() for line in Path(path).read_text().splitlines()]
    if len(rows) != 28 or any(len(r) != 28 for r in rows):
        raise ValueError(f"{path}: expected 28 lines of 28 values")
    return np.array([float(x) for r in rows for x in r], dtype=np.float64)
