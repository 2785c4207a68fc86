#!/usr/bin/env bash
# Reproduces the paper's experiment matrix with ppnn: the paper's algorithms with its parameters
# (delta = 0.1, domain [0,1], distance restriction 1) and our exact ones, on the bundled
# 784-32-10 MNIST and 784-64-10 Fashion-MNIST networks and their 50 inputs each.
#
#   scripts/reproduce.sh [--quick] [--authors-net] [--timeout SECS] [--jobs N]
#                        [--inputs N] [--algos LIST] [--out DIR]
#
#   --quick        2 inputs per set, 60 s per (input, algorithm): a few minutes
#   --authors-net  also the authors' network and inputs (../shared/reference), and a check of
#                  their published c-bu-d radii with `ppnn verify`
#   --timeout      per (input, algorithm) pair (default 600; the paper used 3600)
#   --inputs N     the first N inputs of each set (in name order)
#   --algos LIST   comma-separated algorithms (default: the whole matrix)
#
# Results go to DIR (default experiments/): SET.jsonl (resumable: rerun to continue),
# SET-summary.md, SET-min-edge.png, SET-time.png.
set -euo pipefail
cd "$(dirname "$0")/.."

paper="c-bu-d,c-td,bu-d-dfs,td,td+bu-d-dfs,c-bu-d+bu-d-dfs,complete-bu,complete-c-d-bu"
ours="apothem,maximal,dual"
algos="$paper,$ours"
timeout=600
jobs=""
ninputs=""
authors=0
out=experiments
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ninputs=2; timeout=60 ;;
    --authors-net) authors=1 ;;
    --timeout) timeout="$2"; shift ;;
    --jobs) jobs="$2"; shift ;;
    --inputs) ninputs="$2"; shift ;;
    --algos) algos="$2"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ppnn-target}"
cargo build --release -q
ppnn="$CARGO_TARGET_DIR/release/ppnn"
mkdir -p "$out"

pick() { # the first $ninputs .csv files of a directory (all when unset)
  local files
  files=$(find "$1" -maxdepth 1 -name '*.csv' | sort)
  if [ -n "$ninputs" ]; then echo "$files" | head -n "$ninputs"; else echo "$files"; fi
}

run_set() { # name model input-dir [extra batch options]
  local name="$1" model="$2" dir="$3"; shift 3
  local -a inputs
  mapfile -t inputs < <(pick "$dir")
  echo "== $name: ${#inputs[@]} inputs, algorithms $algos, ${timeout}s per pair"
  "$ppnn" batch "$model" "${inputs[@]}" --algo "$algos" --delta 0.1 --radius-limit 1 \
    --domain 0,1 --timeout "$timeout" ${jobs:+--jobs "$jobs"} --out "$out/$name.jsonl" "$@"
  "$ppnn" summarize "$out/$name.jsonl" --plot "$out/$name-min-edge.png" \
    --time-plot "$out/$name-time.png" > "$out/$name-summary.md"
  echo "   summary: $out/$name-summary.md"
}

run_set mnist data/networks/mnist-784-32-10.onnx data/inputs/mnist --class-from-labels
run_set fmnist data/networks/fmnist-784-64-10.onnx data/inputs/fmnist --class-from-labels

ref=../shared/reference
if [ "$authors" = 1 ]; then
  if [ ! -f "$ref/mnist_nn-32.onnx" ]; then
    echo "--authors-net: $ref not found" >&2; exit 1
  fi
  # Their 9-5.csv is empty: it is recorded as an error line, as it should be.
  run_set authors "$ref/mnist_nn-32.onnx" "$ref/mnist-inputs"
  # Their published c-bu-d balls, checked exactly. results.log lists per input: file, calls,
  # time, description complexity, minimum edge length, ...; every MNIST input has a pixel at 0,
  # so a ball's shortest edge (clipped at 0) is its radius.
  check="$out/authors-published-c-bu-d-check.md"
  {
    echo "| input | published c-bu-d radius | ppnn verify at that radius | witness class | margin |"
    echo "|---|---|---|---|---|"
    grep '^\.\./data/inputs/' "$ref/published-results/c-bu-d/results.log" | while read -r f _ _ _ r _; do
      input="$ref/mnist-inputs/$(basename "$f")"
      if [ "$r" = "0.0" ] || [ ! -s "$input" ]; then continue; fi
      json=$("$ppnn" verify "$ref/mnist_nn-32.onnx" "$input" --radius "$r" --json 2>/dev/null || true)
      python3 -c '
import json,sys
d=json.loads(sys.argv[1]) if sys.argv[1] else {}
w=d.get("witness") or {}
print("| %s | %s | %s | %s | %s |" % (sys.argv[2], sys.argv[3], d.get("verdict","error"),
      w.get("competitor","-"), ("%.4f" % w["margin"]) if w else "-"))' "$json" "$(basename "$f")" "$r"
    done
  } > "$check"
  echo "   published c-bu-d radii checked: $check"
fi
