#!/usr/bin/env bash
# Runs the VNN-LIB 2.0 CLI test suite (vnnlib-satisfactory, PyPI) against ppnn-vnnlib and fails
# on any failed, suspect or errored case, and on any skipped case whose category an affine/ReLU
# solver must run. Needs the venv of scripts/install-vnnlib-tools.sh (PPNN_VENV) and a release
# build of ppnn-vnnlib (PPNN_VNNLIB or ${CARGO_TARGET_DIR:-target}/release/ppnn-vnnlib).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="${PPNN_VENV:-/var/tmp/ppnn-venv}"
bin="${PPNN_VNNLIB:-${CARGO_TARGET_DIR:-$repo/target}/release/ppnn-vnnlib}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
"$venv/bin/vnnlib-satisfactory" run --solver "$bin" > run.log 2>&1 || true
tail -n 3 run.log
status=0
"$venv/bin/vnnlib-satisfactory" report view > view.log 2>&1 || status=$?
"$venv/bin/python" - <<'PY' || status=1
import json, sys
r = json.load(open(".vnnlib-satisfactory/report.json"))
s = r["summary"]
must = {"add", "sub", "gemm", "matmul", "relu", "flatten", "constant", "mul", "neg",
        "reshape", "transpose", "unsqueeze", "concat", "gather", "shape", "slice", "split",
        "reducesum", "reducemean", "batchnormalization", "expand", "constantofshape",
        "arithmetic_bnd", "arithmetic_outc", "arithmetic_lin", "network_single", "multi_io"}
skipped = sorted({x.get("category", x.get("test_id", "").split("/")[0]) for x in r["skipped"]
                  if (x.get("category") or x.get("test_id", "").split("/")[0]) in must})
bad = [x["test_id"] + ": " + x["outcome"] for x in r["results"] if x["outcome"] != "pass"]
print(f"vnnlib-satisfactory: {s['passed']} passed, {s['failed']} failed, {s['suspect']} suspect, "
      f"{s['errored']} errored, {s['skipped']} skipped")
for b in bad:
    print("  not passed:", b)
if skipped:
    print("  skipped although affine/ReLU:", ", ".join(skipped))
sys.exit(1 if bad or skipped or s["failed"] or s["suspect"] or s["errored"] else 0)
PY
if [[ $status -ne 0 ]]; then
    echo "check-vnnlib-satisfactory: FAILED (full log: rerun in a scratch directory)" >&2
    exit 1
fi
echo "check-vnnlib-satisfactory: ok"
