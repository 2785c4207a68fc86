#!/usr/bin/env python3
"""VNN-COMP-`mnist_fc`-style benchmark of `ppnn verify` on deeper networks (issue 12).

Instances: 15 MNIST test inputs (the first bundled input of every class, then the second of
classes 0-4) x eps in {0.03, 0.05}: the L-inf box around the input intersected with [0,1]^784,
"does every point keep the input's class?". One instance at a time, each with its own
`--timeout`. Prints one line per instance and a markdown table per network: decided
(robust/violated), unsolved (unknown), median and max wall time. An unknown instance's line
also gives its bracket on the box's least margin y_c - y_j (`verify --json`'s `closest` and
`reached`): at most the margin at the closest point the attacks found, at least minus the bound
the proof attempt reached; the gap between the two is what the run left open.

  scripts/bench-deep.py [--bin PATH] [--timeout 120] [--networks NAME,...] [--eps 0.03,0.05]
                        [--inputs 15] [--jsonl FILE]

Default networks: the bundled mnist-784-100-100-10, mnist-784-256-256-10, mnist-784-256x4-10,
mnist-784-256x6-10. `--bin` lets the same instances be run by an older build (before/after).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETS = ["mnist-784-100-100-10", "mnist-784-256-256-10", "mnist-784-256x4-10", "mnist-784-256x6-10"]


def inputs(n):
    names = [f"{c}-1" for c in range(10)] + [f"{c}-2" for c in range(10)]
    return [os.path.join(ROOT, "data/inputs/mnist", f"{x}.csv") for x in names[:n]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "/var/tmp/ppnn-target"), "release/ppnn"))
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--networks", default=",".join(NETS))
    ap.add_argument("--eps", default="0.03,0.05")
    ap.add_argument("--inputs", type=int, default=15)
    ap.add_argument("--jsonl", default=None, help="append one JSON line per instance")
    ap.add_argument("--extra", default="", help="extra options for ppnn verify")
    a = ap.parse_args()
    rows = {}
    out = open(a.jsonl, "a") if a.jsonl else None
    for net in a.networks.split(","):
        model = os.path.join(ROOT, "data/networks", net + ".onnx")
        for eps in a.eps.split(","):
            for inp in inputs(a.inputs):
                cmd = [a.bin, "verify", model, inp, "--radius", eps, "--timeout", str(a.timeout), "--json"] + a.extra.split()
                t = time.monotonic()
                p = subprocess.run(cmd, capture_output=True, text=True)
                dt = time.monotonic() - t
                try:
                    d = json.loads(p.stdout)
                except ValueError:
                    d = {"verdict": "error", "reason": p.stderr.strip()}
                verdict = d.get("verdict", "error")
                rec = {"network": net, "eps": float(eps), "input": os.path.basename(inp),
                       "verdict": verdict, "exit": p.returncode, "time_s": round(dt, 3),
                       "reason": d.get("reason")}
                # An unknown's bracket on the box's least margin y_c - y_j: at most the margin
                # at the closest point found, at least minus the bound reached.
                bracket = ""
                if d.get("closest"):
                    rec["margin_at_most"] = -d["closest"]["value"]
                    bracket += f" least margin <= {rec['margin_at_most']:.4f}"
                if d.get("reached"):
                    rec["margin_at_least"] = -d["reached"]["value"]
                    rec["bound_proved"] = d["reached"]["proved"]
                    bracket += f", >= {rec['margin_at_least']:.4f}"
                print(f"{net} eps={eps} {os.path.basename(inp)}: {verdict} {dt:.2f} s"
                      + (bracket if verdict == "unknown" else ""), flush=True)
                if out:
                    out.write(json.dumps(rec) + "\n")
                    out.flush()
                rows.setdefault(net, []).append(rec)
    print()
    print("| network | instances | robust | violated | unsolved | median s | max s | unsolved: median bracket width |")
    print("|---|---|---|---|---|---|---|---|")
    for net, rs in rows.items():
        ts = [r["time_s"] for r in rs]
        n = lambda v: sum(1 for r in rs if r["verdict"] == v)
        widths = [r["margin_at_most"] - r["margin_at_least"] for r in rs
                  if r["verdict"] == "unknown" and "margin_at_most" in r and "margin_at_least" in r]
        width = f"{statistics.median(widths):.3f}" if widths else "–"
        print(f"| {net} | {len(rs)} | {n('robust')} | {n('violated')} | {len(rs) - n('robust') - n('violated')} "
              f"| {statistics.median(ts):.2f} | {max(ts):.2f} | {width} |")


if __name__ == "__main__":
    sys.exit(main())
