#!/usr/bin/env python3
"""Runs NeuralSAT (the `neuralsat` package from PyPI: DPLL(T) search over auto_LiRPA/CROWN
bound propagation, with a PGD attack and a MIP presolve through gurobipy's size-limited
licence) on every instance of a VNN-COMP benchmark directory, through its own command line
(`main.py --net ONNX --spec VNNLIB --result_file F --export_cex`), on the CPU with one thread,
with a per-instance time limit.

Writes, in OUT, `INSTANCE.counterexample` (NeuralSAT's result file: the status line, then for
`sat` its `((X_0 v) ... (Y_0 v) ...)`), and `results.csv` in VNN-COMP's
`benchmark,onnx,vnnlib,prepare_time,result,run_time`.

The package installs its code as a top-level `src` directory in site-packages; its main.py is
run with that directory on PYTHONPATH, as its own scripts do.

Usage: run_neuralsat.py PYTHON SUITE OUT [--timeout SECS] [--limit N]
  PYTHON: the interpreter of the environment where neuralsat is installed.
"""
import argparse
import csv
import os
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("python")
    ap.add_argument("suite")
    ap.add_argument("out")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds per instance (default: instances.csv's)")
    ap.add_argument("--limit", type=int, default=None, help="run only the first N instances")
    a = ap.parse_args()
    site = subprocess.run(
        [a.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    main_py = os.path.join(site, "src", "main.py")
    if not os.path.exists(main_py):
        sys.exit(f"error: {main_py} not found: is neuralsat installed for {a.python}?")
    env = dict(os.environ, PYTHONPATH=os.path.join(site, "src"), OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.suite, "instances.csv")) as f:
        rows = [r for r in csv.reader(f) if r]
    if a.limit is not None:
        rows = rows[: a.limit]
    bench = os.path.basename(os.path.normpath(a.suite))
    results = []
    for k, (onnx, vnnlib, t) in enumerate(rows):
        timeout = a.timeout if a.timeout is not None else float(t)
        name = os.path.basename(vnnlib).removesuffix(".gz").removesuffix(".vnnlib")
        result_file = os.path.join(a.out, name + ".counterexample")
        if os.path.exists(result_file):
            os.remove(result_file)
        cmd = [a.python, main_py, "--net", os.path.join(a.suite, onnx),
               "--spec", os.path.join(a.suite, vnnlib), "--timeout", str(timeout),
               "--device", "cpu", "--verbosity", "0", "--result_file", result_file, "--export_cex"]
        start = time.monotonic()
        try:
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout + 30)
            failed = p.returncode != 0
        except subprocess.TimeoutExpired:
            failed = None
        elapsed = time.monotonic() - start
        code = "error"
        if failed is None:
            code = "timeout"
            with open(result_file, "w") as f:
                f.write("timeout\n; killed by the runner\n")
        elif os.path.exists(result_file):
            with open(result_file) as f:
                code = (f.readline().strip().lower() or "error")
            if code not in ("sat", "unsat", "timeout", "unknown"):
                code = "error"
        else:
            with open(result_file, "w") as f:
                f.write("error\n; exit code %s\n" % p.returncode)
        results.append([bench, onnx, vnnlib, "0", code, f"{elapsed:.3f}"])
        print(f"[{k + 1}/{len(rows)}] {name}: {code} in {elapsed:.2f} s", flush=True)
    with open(os.path.join(a.out, "results.csv"), "w", newline="") as f:
        csv.writer(f).writerows(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
