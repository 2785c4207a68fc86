#!/usr/bin/env python3
"""Replays a VNN-COMP `sat` counterexample the way the competition checks it: the X values run
through onnxruntime in float32, and every assertion of the VNN-LIB 1.0 query is evaluated on
(X, onnxruntime's Y) with zero tolerance. Independent of ppnn's own parser.

    replay.py MODEL.onnx QUERY.vnnlib[.gz] RESULTS_FILE

Prints one line and exits 0 when the witness replays (or the result is not `sat`), 1 when it
does not, 2 on a usage or file error.
"""
import gzip
import re
import sys

import numpy as np
import onnxruntime as ort


def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return f.read()


def sexprs(text):
    text = re.sub(r";[^\n]*", "", text)
    tokens = re.findall(r"\(|\)|[^\s()]+", text)
    stack, top = [], []
    for t in tokens:
        if t == "(":
            stack.append([])
        elif t == ")":
            done = stack.pop()
            (stack[-1] if stack else top).append(done)
        else:
            (stack[-1] if stack else top).append(t)
    return top


def value(e, env):
    if isinstance(e, str):
        return env[e] if e in env else float(e)
    op, args = e[0], [value(a, env) for a in e[1:]]
    if op == "+":
        return sum(args)
    if op == "-":
        return -args[0] if len(args) == 1 else args[0] - sum(args[1:])
    if op == "*":
        r = 1.0
        for a in args:
            r *= a
        return r
    if op == "/":
        return args[0] / args[1]
    raise ValueError(f"unknown term {op}")


CMP = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
       ">": lambda a, b: a > b, "=": lambda a, b: a == b, "==": lambda a, b: a == b}


def holds(f, env):
    op = f[0]
    if op == "and":
        return all(holds(g, env) for g in f[1:])
    if op == "or":
        return any(holds(g, env) for g in f[1:])
    if op == "!=":
        return value(f[1], env) != value(f[2], env)
    vals = [value(a, env) for a in f[1:]]
    return all(CMP[op](a, b) for a, b in zip(vals, vals[1:]))


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    model, query, results = sys.argv[1:]
    lines = open(results).read().split("\n", 1)
    if lines[0].strip() != "sat":
        print(f"replay: {results}: {lines[0].strip()} (nothing to replay)")
        return 0
    pairs = re.findall(r"\(\s*([XY])_(\d+)\s+([^\s()]+)\s*\)", lines[1])
    xs = {int(i): float(v) for k, i, v in pairs if k == "X"}
    n = len(xs)
    x = np.array([xs[i] for i in range(n)], dtype=np.float32)
    if any(float(a) != xs[i] for i, a in enumerate(x)):
        print(f"replay: FAIL {results}: an X value is not a float32 number")
        return 1
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
    y = np.concatenate([o.reshape(-1) for o in sess.run(None, {inp.name: x.reshape(shape)})])
    env = {f"X_{i}": float(v) for i, v in enumerate(x)}
    env.update({f"Y_{j}": float(v) for j, v in enumerate(y)})
    failed = [f for f in sexprs(read(query)) if f[0] == "assert" and not holds(f[1], env)]
    if failed:
        print(f"replay: FAIL {results}: {len(failed)} assertion(s) do not hold in float32 onnxruntime")
        return 1
    print(f"replay: ok {results}: every assertion holds at the witness (onnxruntime float32)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
