#!/usr/bin/env bash
# Retrain the eight bundled networks of data/networks/ (two at a time, one BLAS
# thread each). Needs the datasets (scripts/fetch-datasets.sh) and the packages
# of requirements-data.txt. Each run prints a "[train_mlp] summary {...}" JSON
# line; all of them are also collected in $LOG (default: a temp file).
#
#   scripts/train-all.sh [LOG]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python="${PYTHON:-python3}"
log="${1:-$(mktemp "${TMPDIR:-/tmp}/ppnn-train-all.XXXXXX.log")}"
: >"$log"

# The exact commands recorded in data/networks/PROVENANCE.md.
CMDS=(
  "scripts/train_mlp.py --dataset mnist --hidden 32 --epochs 30 --seed 0 --out data/networks/mnist-784-32-10.onnx"
  "scripts/train_mlp.py --dataset fmnist --hidden 64 --epochs 30 --seed 0 --out data/networks/fmnist-784-64-10.onnx"
  "scripts/train_mlp.py --dataset mnist --hidden 100 --epochs 20 --seed 0 --out data/networks/mnist-784-100-10.onnx"
  "scripts/train_mlp.py --dataset mnist --hidden 100 100 --epochs 20 --seed 0 --out data/networks/mnist-784-100-100-10.onnx"
  "scripts/train_mlp.py --dataset mnist --hidden 256 256 --epochs 20 --seed 0 --out data/networks/mnist-784-256-256-10.onnx"
  "scripts/train_mlp.py --dataset fmnist --hidden 256 256 --epochs 20 --seed 0 --out data/networks/fmnist-784-256-256-10.onnx"
  "scripts/train_mlp.py --dataset mnist --hidden 256 256 256 256 --epochs 20 --seed 0 --out data/networks/mnist-784-256x4-10.onnx"
  "scripts/train_mlp.py --dataset mnist --hidden 256 256 256 256 256 256 --epochs 20 --seed 0 --out data/networks/mnist-784-256x6-10.onnx"
)

start=$(date +%s)
pids=()
for i in "${!CMDS[@]}"; do
  echo "[train-all] $python ${CMDS[$i]}"
  # shellcheck disable=SC2086
  $python ${CMDS[$i]} >"$log.$i" 2>&1 &
  pids+=($!)
  if (( ${#pids[@]} == 2 )); then
    wait "${pids[0]}" || { cat "$log".*; exit 1; }
    pids=("${pids[1]}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || { cat "$log".*; exit 1; }; done
for i in "${!CMDS[@]}"; do cat "$log.$i"; cat "$log.$i" >>"$log"; rm -f "$log.$i"; done
echo "[train-all] all trained in $(( $(date +%s) - start )) s; log: $log"
