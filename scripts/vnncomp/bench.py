#!/usr/bin/env python3
"""Runs run_instance.sh over a benchmark's instances.csv and prints, per network, how many
instances were solved (sat, unsat) or not (timeout, unknown, error), and the median and maximum
wall-clock time; every sat counterexample is replayed in float32 onnxruntime when a Python with
onnxruntime is given (--python, default $PPNN_PYTHON), and a failed replay counts as wrong.

    scripts/vnncomp/bench.py data/vnncomp/mnist_fc_ppnn [--timeout SECS] [--python PY]

The solver is $PPNN_VNNLIB or ${CARGO_TARGET_DIR:-target}/release/ppnn-vnnlib (build it first).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench")
    ap.add_argument("--timeout", type=float, help="override the per-instance timeout")
    ap.add_argument("--python", default=os.environ.get("PPNN_PYTHON"))
    a = ap.parse_args()
    rows = [l.strip().split(",") for l in open(os.path.join(a.bench, "instances.csv")) if l.strip()]
    per_net = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, (onnx, vnnlib, timeout) in enumerate(rows):
            t = a.timeout if a.timeout else float(timeout)
            onnx_p, q = os.path.join(a.bench, onnx), os.path.join(a.bench, vnnlib)
            out = os.path.join(tmp, f"{k}.txt")
            start = time.monotonic()
            subprocess.run([os.path.join(HERE, "run_instance.sh"), "v1", "bench", onnx_p, q, out,
                            f"{t:g}"], stderr=subprocess.DEVNULL, check=False)
            elapsed = time.monotonic() - start
            res = open(out).read().split("\n", 1)[0].strip() if os.path.exists(out) else "error"
            replay = ""
            if res == "sat" and a.python:
                r = subprocess.run([a.python, os.path.join(HERE, "replay.py"), onnx_p, q, out],
                                   capture_output=True, text=True)
                replay = "replayed" if r.returncode == 0 else "REPLAY FAILED"
                if r.returncode != 0:
                    res = "wrong"
            print(f"{os.path.basename(vnnlib)}: {res} {replay} {elapsed:.2f} s", flush=True)
            per_net.setdefault(os.path.basename(onnx), []).append((res, elapsed))
    print()
    print("| network | instances | sat | unsat | unsolved | wrong | median time (s) | max time (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for net, rs in per_net.items():
        times = [e for _, e in rs]
        n = lambda *w: sum(1 for r, _ in rs if r in w)
        print(f"| {net} | {len(rs)} | {n('sat')} | {n('unsat')} | {n('timeout', 'unknown', 'error')} "
              f"| {n('wrong')} | {statistics.median(times):.2f} | {max(times):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
