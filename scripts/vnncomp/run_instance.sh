#!/usr/bin/env bash
# VNN-COMP: run_instance.sh v1 CATEGORY ONNX VNNLIB RESULTS_FILE TIMEOUT
# Writes RESULTS_FILE: first line sat | unsat | timeout | unknown | error, then after sat the
# counterexample ((X_0 v) … (Y_0 v)). The solver answers `timeout` a little before TIMEOUT
# (10% of it, between 0.2 and 2 s) and a watchdog in it stops the run then at the latest.
set -uo pipefail
if [[ "${1:-}" != "v1" || $# -ne 6 ]]; then
    echo "usage: $0 v1 CATEGORY ONNX VNNLIB RESULTS_FILE TIMEOUT" >&2
    exit 1
fi
onnx="$3"; vnnlib="$4"; results="$5"; timeout="$6"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${PPNN_VNNLIB:-${CARGO_TARGET_DIR:-$repo/target}/release/ppnn-vnnlib}"
rm -f "$results"
# A VNN-LIB 2.0 query names its network; a 1.0 query takes any name.
reader=cat
[[ "$vnnlib" == *.gz ]] && reader="gzip -dc"
name=$($reader "$vnnlib" 2>/dev/null | grep -o 'declare-network[[:space:]]\+[A-Za-z_][A-Za-z0-9_]*' | head -1 | awk '{print $2}')
name="${name:-N}"
"$bin" verify "$vnnlib" --network "$name=$onnx" --timeout "$timeout" --vnncomp-results "$results" >/dev/null
status=$?
if [[ $status -ne 0 || ! -s "$results" ]]; then
    echo "error" > "$results"
fi
exit 0
