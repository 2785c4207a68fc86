#!/usr/bin/env python3
"""Marabou 2.0 (`maraboupy` from PyPI) on the same instances as `scripts/bench-deep.py`:
the L-inf box of radius eps around each input, intersected with [0,1]^784, "does every point
keep the input's class?" One worker, exact property: the box is robust iff no competitor j
reaches y_j >= y_c; each j is one Marabou query (sat stops the instance), sharing the
instance's timeout. Prints one line per instance and a markdown table like bench-deep.py.

Every `sat` is checked before it counts: Marabou's input values, clipped into the box, are
run through onnxruntime (f32, the model file as written). A point where y_j < y_c there is
not a counterexample: the instance is reported `tie-sat` when y_c - y_j <= TIE (the point lies
on the decision boundary to within f32 rounding, but the class still wins there), else
`wrong-sat`; Marabou's own output values at the point are printed beside onnxruntime's. Both
are counted apart, neither robust nor violated.

With `--referee PPNN` every `robust` is checked too: `PPNN verify` (the ppnn binary given, at
most `--referee-timeout` seconds) looks for a counterexample in the same box; when it finds
one and onnxruntime agrees that the point lies in the box with the competitor at or above
the class, Marabou's `robust` is reported `wrong-unsat` and counted apart. A `robust` that
survives the check is not thereby proved (ppnn may only have run out of time).

  python3 -m pip install maraboupy==2.0.0 onnx onnxruntime
  scripts/bench-marabou.py [--timeout 120] [--networks NAME,...] [--eps 0.03,0.05] [--inputs 15]
                           [--only 7-1,...] [--referee target/release/ppnn [--referee-timeout 10]]
"""
import argparse
import os
import json
import statistics
import subprocess
import sys
import time

import numpy as np

# A Marabou point within this of the decision boundary (onnxruntime, f32) is a tie, not a
# counterexample far from it.
TIE = 1e-4
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
NETS = ["mnist-784-100-100-10", "mnist-784-256-256-10", "mnist-784-256x4-10", "mnist-784-256x6-10"]


def inputs(n):
    names = [f"{c}-1" for c in range(10)] + [f"{c}-2" for c in range(10)]
    return [os.path.join(ROOT, "data/inputs/mnist", f"{x}.csv") for x in names[:n]]


def read_input(path):
    return np.array([float(v) for v in open(path).read().replace(",", " ").split()])


def check_sat(sess, x_sat, lo, hi, c, j):
    """onnxruntime's outputs at Marabou's point (clipped into the box) and whether the
    competitor j reaches the class c there."""
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    p = np.clip(x_sat, lo, hi)
    y = sess.run(None, {inp.name: p.astype(np.float32).reshape(shape)})[0].flatten()
    return y, bool(y[j] >= y[c])


def check_unsat(sess, ppnn, timeout, model, inp, eps, lo, hi, c):
    """A counterexample to Marabou's `robust`: ppnn's witness in the box, confirmed by
    onnxruntime (f32), as (competitor, y) or None when ppnn finds none."""
    out = subprocess.run([ppnn, "verify", model, inp, "--radius", str(eps), "--timeout", str(timeout), "--json"],
                         capture_output=True, text=True)
    try:
        d = json.loads(out.stdout)
    except json.JSONDecodeError:
        sys.exit(f"referee {ppnn} gave no JSON on {inp} at eps {eps}: {out.stderr.strip()}")
    if d.get("verdict") != "violated":
        return None
    w = np.array(d["witness"]["x"])
    j = d["witness"]["competitor"]
    if d["class"] != c or not (np.all(w >= lo) and np.all(w <= hi)):
        return None
    inp0 = sess.get_inputs()[0]
    shape = [k if isinstance(k, int) else 1 for k in inp0.shape]
    y = sess.run(None, {inp0.name: w.astype(np.float32).reshape(shape)})[0].flatten()
    return (j, y) if y[j] >= y[c] else None


def main():
    import onnxruntime as ort
    from maraboupy import Marabou

    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--networks", default=",".join(NETS))
    ap.add_argument("--eps", default="0.03,0.05")
    ap.add_argument("--inputs", type=int, default=15)
    ap.add_argument("--only", default=None, help="only these inputs among them, e.g. 7-1,3-2")
    ap.add_argument("--referee", default=None, help="a ppnn binary that checks every Marabou robust")
    ap.add_argument("--referee-timeout", type=float, default=10)
    a = ap.parse_args()
    if a.referee and not (os.path.isfile(a.referee) and os.access(a.referee, os.X_OK)):
        sys.exit(f"--referee {a.referee}: not an executable file (build ppnn with cargo build --release)")
    only = set(a.only.split(",")) if a.only else None
    rows = {}
    for net in a.networks.split(","):
        model = os.path.join(ROOT, "data/networks", net + ".onnx")
        sess = ort.InferenceSession(model)
        for eps in [float(e) for e in a.eps.split(",")]:
            for inp in inputs(a.inputs):
                if only is not None and os.path.basename(inp)[:-4] not in only:
                    continue
                x = read_input(inp)
                # The box, once: Marabou's bounds and the check of its points.
                lo = np.maximum(0.0, x - eps)
                hi = np.minimum(1.0, x + eps)
                t0 = time.monotonic()
                network = Marabou.read_onnx(model)
                y = network.evaluateWithoutMarabou([x.reshape(network.inputVars[0].shape)])[0].flatten()
                c = int(np.argmax(y))
                verdict = "robust"
                for j in range(len(y)):
                    if j == c:
                        continue
                    left = a.timeout - (time.monotonic() - t0)
                    if left <= 0:
                        verdict = "unknown"
                        break
                    n = Marabou.read_onnx(model)
                    iv = n.inputVars[0].flatten()
                    ov = n.outputVars[0].flatten()
                    for i, v in enumerate(iv):
                        n.setLowerBound(v, float(lo[i]))
                        n.setUpperBound(v, float(hi[i]))
                    # y_c - y_j <= 0: class c does not strictly win against j.
                    n.addInequality([ov[c], ov[j]], [1.0, -1.0], 0.0)
                    opts = Marabou.createOptions(verbosity=0, timeoutInSeconds=max(1, int(left)), numWorkers=1)
                    res, vals, _ = n.solve(options=opts, verbose=False)
                    if res == "sat":
                        x_sat = np.array([vals[v] for v in iv])
                        y_ort, real = check_sat(sess, x_sat, lo, hi, c, j)
                        if real:
                            verdict = "violated"
                        else:
                            verdict = "tie-sat" if y_ort[c] - y_ort[j] <= TIE else "wrong-sat"
                            print(f"  {net} eps={eps} {os.path.basename(inp)}: Marabou's sat for class {j} is not a "
                                  f"counterexample: onnxruntime y_{c} = {y_ort[c]:.6f}, y_{j} = {y_ort[j]:.6f} "
                                  f"(Marabou's outputs: {vals[ov[c]]:.6f}, {vals[ov[j]]:.6f})", flush=True)
                        break
                    if res != "unsat":
                        verdict = "unknown"
                        break
                dt = time.monotonic() - t0
                if verdict == "robust" and a.referee:
                    found = check_unsat(sess, a.referee, a.referee_timeout, model, inp, eps, lo, hi, c)
                    if found is not None:
                        j, y_ort = found
                        verdict = "wrong-unsat"
                        print(f"  {net} eps={eps} {os.path.basename(inp)}: Marabou's robust is refuted: ppnn's "
                              f"witness, in the box, gives onnxruntime y_{c} = {y_ort[c]:.6f}, y_{j} = {y_ort[j]:.6f}",
                              flush=True)
                print(f"{net} eps={eps} {os.path.basename(inp)}: {verdict} {dt:.2f} s", flush=True)
                rows.setdefault(net, []).append((verdict, dt))
    print()
    print("| network | instances | robust | violated | sat at a tie | wrong sat | wrong robust | unsolved | median s | max s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for net, rs in rows.items():
        ts = [t for _, t in rs]
        n = lambda v: sum(1 for r in rs if r[0] == v)
        unsolved = len(rs) - n('robust') - n('violated') - n('tie-sat') - n('wrong-sat') - n('wrong-unsat')
        print(f"| {net} (Marabou) | {len(rs)} | {n('robust')} | {n('violated')} | {n('tie-sat')} | {n('wrong-sat')} "
              f"| {n('wrong-unsat')} | {unsolved} "
              f"| {statistics.median(ts):.2f} | {max(ts):.2f} |")


if __name__ == "__main__":
    sys.exit(main())
