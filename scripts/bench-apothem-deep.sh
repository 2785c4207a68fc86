#!/usr/bin/env bash
# Exact apothem (`certify --algo apothem`) on deeper networks (issue 12): per input the proved
# radius r_lo, the confirmed counterexample's distance r_hi, the ratio r_lo/r_hi and the time,
# with a per-input time limit; then the median and minimum ratio and the exact count (bracket
# narrower than 1e-4).
#   scripts/bench-apothem-deep.sh [TIMEOUT=120] [N_INPUTS=50] [NETWORK...]
# PPNN_BIN=<binary> runs a copy (so that rebuilds do not change a running benchmark);
# PPNN_BENCH_EXTRA="<options>" passes options to every run (e.g. "--enable lp-tightening");
# PPNN_BENCH_KEEP=<dir> keeps each network's JSON lines there (<dir>/<network>.jsonl), to watch
# a long run and to re-read its figures afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ppnn-target}"
timeout="${1:-120}"; n="${2:-50}"; shift $(( $# >= 2 ? 2 : $# )) || true
nets=("$@"); [ ${#nets[@]} -gt 0 ] || nets=(mnist-784-100-100-10 mnist-784-256-256-10)
# With PPNN_BIN the copy is run as it is: no build (a working tree mid-edit must not stop it).
[ -n "${PPNN_BIN:-}" ] || cargo build --release -q
bin="${PPNN_BIN:-$CARGO_TARGET_DIR/release/ppnn}"
for net in "${nets[@]}"; do
  if [ -n "${PPNN_BENCH_KEEP:-}" ]; then
    mkdir -p "$PPNN_BENCH_KEEP"; out="$PPNN_BENCH_KEEP/$net.jsonl"; : >"$out"
  else
    out=$(mktemp)
  fi
  for f in $(ls data/inputs/mnist/*.csv | sort -t/ -k4 | head -n "$n"); do
    "$bin" certify "data/networks/$net.onnx" "$f" --timeout "$timeout" --json ${PPNN_BENCH_EXTRA:-} >>"$out" 2>/dev/null || true
  done
  python3 - "$net" "$out" <<'PY'
import json, statistics, sys
net, path = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(path) if l.strip()]
ratios, times, exact = [], [], 0
for r in rows:
    lo, hi = r.get("apothem") or 0.0, r.get("apothem_upper")
    t = r.get("time_s", 0.0)
    times.append(t)
    if hi:
        ratios.append(lo / hi)
        exact += (hi - lo) < 1e-4
    print(f"{net} {r.get('input', '?')}: r_lo {lo:.6f} r_hi {hi if hi is None else round(hi, 6)} status {r.get('status')} {t:.2f} s")
print(f"| {net} | {len(rows)} | {exact} | {statistics.median(times):.2f} | {max(times):.2f} | "
      f"{statistics.median(ratios) if ratios else float('nan'):.3f} | {min(ratios) if ratios else float('nan'):.3f} |")
PY
  [ -n "${PPNN_BENCH_KEEP:-}" ] || rm -f "$out"
done
