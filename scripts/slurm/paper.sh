#!/usr/bin/env bash
# The paper's experiment matrix (the same as scripts/reproduce.sh: the paper's algorithms with
# its parameters, and our exact ones) on a Slurm cluster: one job array per set, each followed by
# a merge + summarize job. Run from the repository root, on a login node, after
# `cargo build --release`, in a directory the compute nodes share.
#
#   scripts/slurm/paper.sh [--timeout SECS] [--cpus-per-task C] [--pairs-per-task P]
#                          [--algos LIST] [--out DIR] [--authors-net] [--sbatch-args "..."]
#                          [--dry-run]
#
#   --timeout      per (input, algorithm) pair (default 3600, the paper's)
#   --algos        comma-separated algorithms (default: the whole matrix)
#   --out          results directory (default experiments/slurm): SET.jsonl, SET-summary.md,
#                  SET-min-edge.png, SET-time.png, the shards SET.K-of-N.jsonl and the logs
#   --authors-net  also the authors' network and inputs (../shared/reference)
# Other options go to submit.sh (see there).
set -euo pipefail
cd "$(dirname "$0")/../.."

paper="c-bu-d,c-td,bu-d-dfs,td,td+bu-d-dfs,c-bu-d+bu-d-dfs,complete-bu,complete-c-d-bu"
ours="apothem,maximal,dual"
algos="$paper,$ours"
timeout=3600
out=experiments/slurm
authors=0
submit=()
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout="$2"; shift ;;
    --algos) algos="$2"; shift ;;
    --out) out="$2"; shift ;;
    --authors-net) authors=1 ;;
    --cpus-per-task|--pairs-per-task|--tasks|--time|--ppnn|--sbatch-args) submit+=("$1" "$2"); shift ;;
    --dry-run|--no-merge) submit+=("$1") ;;
    *) echo "paper: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done

run_set() { # name model input-dir [extra batch options]
  local name="$1" model="$2" dir="$3"; shift 3
  echo "== $name"
  scripts/slurm/submit.sh "${submit[@]}" -- "$model" "$dir" --algo "$algos" --delta 0.1 \
    --radius-limit 1 --domain 0,1 --timeout "$timeout" --out "$out/$name.jsonl" "$@"
}

run_set mnist data/networks/mnist-784-32-10.onnx data/inputs/mnist --class-from-labels
run_set fmnist data/networks/fmnist-784-64-10.onnx data/inputs/fmnist --class-from-labels
if [ "$authors" = 1 ]; then
  ref=../shared/reference
  [ -f "$ref/mnist_nn-32.onnx" ] || { echo "--authors-net: $ref not found" >&2; exit 1; }
  run_set authors "$ref/mnist_nn-32.onnx" "$ref/mnist-inputs"
fi
