#!/usr/bin/env python3
"""Runs Marabou (maraboupy, from PyPI) on every instance of a VNN-COMP benchmark directory,
through its own public interface: `Marabou.read_onnx` for the network and Marabou's VNN-LIB
property reader (`propertyFilename`), one worker, a per-instance time limit.

Writes, in OUT:
- `INSTANCE.counterexample`: the first line `sat`/`unsat`/`timeout`/`unknown`/`error`, then for
  `sat` the assignment `((X_0 v) ... (Y_0 v) ...)` of Marabou's solution;
- `results.csv`: VNN-COMP's `benchmark,onnx,vnnlib,prepare_time,result,run_time`.

Each instance runs in a child process that is killed at timeout + 10 s, so that a query that
ignores Marabou's own time limit, or crashes, costs one instance and not the run.

Usage: run_marabou.py SUITE OUT [--timeout SECS] [--limit N]
"""
import argparse
import csv
import multiprocessing as mp
import os
import sys
import time


def solve(onnx, vnnlib, timeout, queue):
    try:
        # Imported in the child: a crash inside Marabou must not take the runner down.
        from maraboupy import Marabou
        net = Marabou.read_onnx(onnx)
        options = Marabou.createOptions(numWorkers=1, timeoutInSeconds=int(timeout), verbosity=0)
        code, vals, _stats = net.solve(verbose=False, options=options, propertyFilename=vnnlib)
        code = code.lower()
        lines = []
        if code == "sat":
            xs = [v for arr in net.inputVars for v in arr.flatten()]
            ys = [v for arr in net.outputVars for v in arr.flatten()]
            pairs = [f"(X_{i} {float(vals[v])!r})" for i, v in enumerate(xs)]
            pairs += [f"(Y_{j} {float(vals[v])!r})" for j, v in enumerate(ys)]
            lines = ["(" + "\n ".join(pairs) + ")"]
        elif code not in ("unsat", "timeout", "unknown"):
            code = "error" if code != "quit_requested" else "timeout"
        queue.put((code, lines))
    except Exception as e:  # noqa: BLE001 - report any failure as an error result
        queue.put(("error", [f"; {type(e).__name__}: {e}"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("suite")
    ap.add_argument("out")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds per instance (default: instances.csv's)")
    ap.add_argument("--limit", type=int, default=None, help="run only the first N instances")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.suite, "instances.csv")) as f:
        rows = [r for r in csv.reader(f) if r]
    if a.limit is not None:
        rows = rows[: a.limit]
    bench = os.path.basename(os.path.normpath(a.suite))
    results = []
    ctx = mp.get_context("fork")
    for k, (onnx, vnnlib, t) in enumerate(rows):
        timeout = a.timeout if a.timeout is not None else float(t)
        name = os.path.basename(vnnlib).removesuffix(".gz").removesuffix(".vnnlib")
        q = ctx.Queue()
        start = time.monotonic()
        p = ctx.Process(target=solve, args=(os.path.join(a.suite, onnx), os.path.join(a.suite, vnnlib), timeout, q))
        p.start()
        p.join(timeout + 10)
        if p.is_alive():
            p.kill()
            p.join()
            code, lines = "timeout", ["; killed by the runner"]
        else:
            try:
                code, lines = q.get(timeout=5)
            except Exception:  # noqa: BLE001
                code, lines = "error", [f"; the solver process exited with {p.exitcode}"]
        elapsed = time.monotonic() - start
        with open(os.path.join(a.out, name + ".counterexample"), "w") as f:
            f.write("\n".join([code] + lines) + "\n")
        results.append([bench, onnx, vnnlib, "0", code, f"{elapsed:.3f}"])
        print(f"[{k + 1}/{len(rows)}] {name}: {code} in {elapsed:.2f} s", flush=True)
    with open(os.path.join(a.out, "results.csv"), "w", newline="") as f:
        csv.writer(f).writerows(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
