#!/usr/bin/env python3
"""A long projected-gradient attack outside ppnn, to judge an undecided box's bracket.

`ppnn verify` reports, for an `unknown` box, its least margin's bracket: at most the margin at
the closest point its attacks found, at least minus the bound its proof reached. This script
asks how good the first end is: many more starts and steps (numpy, batched) on each competitor
of an L-inf box around the input, intersected with [0,1]. When every start converges to the
same margin, the box's least margin is very likely that value, and the rest of the bracket is
the relaxation's gap. Fully connected ReLU networks (Gemm or MatMul+Add, Relu) only.

  scripts/pgd-long.py MODEL.onnx INPUT.csv EPS [--starts 400] [--steps 300] [--seed 0]

Needs numpy and onnx: the venv of scripts/install-vnnlib-tools.sh
(`/var/tmp/ppnn-venv/bin/python scripts/pgd-long.py ...`).
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def layers_of(path):
    try:
        m = onnx.load(path)
    except Exception as e:  # a missing or malformed file: one message, no traceback
        sys.exit(f"error: {path}: cannot read the ONNX model ({e})")
    init = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in m.graph.initializer}
    layers = []
    for n in m.graph.node:
        if n.op_type == "Gemm":
            w, b = init[n.input[1]], init[n.input[2]]
            attrs = {a.name: a.i for a in n.attribute}
            if attrs.get("transB", 0):
                w = w.T
            layers.append([w, b])
        elif n.op_type == "MatMul":
            layers.append([init[n.input[1]], None])
        elif n.op_type == "Add" and layers and layers[-1][1] is None:
            layers[-1][1] = init[n.input[1]]
        elif n.op_type not in ("Relu", "Flatten", "Reshape", "Identity"):
            sys.exit(f"error: {path}: operator {n.op_type} is not supported by this script")
    if not layers or any(b is None for _, b in layers):
        sys.exit(f"error: {path}: not a fully connected network with biases")
    return layers


def forward(layers, x):
    pre = []
    h = x
    for i, (w, b) in enumerate(layers):
        z = h @ w + b
        pre.append(z)
        h = np.maximum(z, 0) if i < len(layers) - 1 else z
    return h, pre


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("input")
    ap.add_argument("eps", type=float)
    ap.add_argument("--starts", type=int, default=400)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    layers = layers_of(a.model)
    try:
        x0 = np.array(open(a.input).read().replace(",", " ").split(), dtype=np.float64)
    except (OSError, ValueError) as e:
        sys.exit(f"error: {a.input}: cannot read the input ({e})")
    if x0.size != layers[0][0].shape[0] or not np.all(np.isfinite(x0)):
        sys.exit(f"error: {a.input}: {x0.size} values; the network takes "
                 f"{layers[0][0].shape[0]} finite ones")
    if not (a.eps >= 0 and np.isfinite(a.eps)):
        sys.exit(f"error: eps must be a finite number >= 0, got {a.eps}")
    y, _ = forward(layers, x0[None])
    c = int(np.argmax(y))
    lo, hi = np.maximum(x0 - a.eps, 0), np.minimum(x0 + a.eps, 1)
    rng = np.random.default_rng(a.seed)
    least = np.inf
    for j in range(y.shape[1]):
        if j == c:
            continue
        # Random points, a quarter of them random vertices.
        x = lo + (hi - lo) * rng.random((a.starts, x0.size))
        q = a.starts // 4
        x[:q] = np.where(rng.random((q, x0.size)) < 0.5, lo, hi)
        for t in range(a.steps):
            out, pre = forward(layers, x)
            g = np.zeros_like(out)
            g[:, j], g[:, c] = 1.0, -1.0
            for i in range(len(layers) - 1, -1, -1):
                if i < len(layers) - 1:
                    g = g * (pre[i] > 0)
                g = g @ layers[i][0].T
            step = (hi - lo) * (0.3 * (1 - t / a.steps) + 0.01)
            x = np.clip(x + step * np.sign(g), lo, hi)
        out, _ = forward(layers, x)
        m = out[:, c] - out[:, j]
        least = min(least, m.min())
        print(f"competitor {j}: least margin y_{c} - y_{j} found {m.min():.6f} "
              f"(median over starts {np.median(m):.6f})", flush=True)
    print(f"least margin found: {least:.6f} (class {c}, eps {a.eps})")


if __name__ == "__main__":
    main()
