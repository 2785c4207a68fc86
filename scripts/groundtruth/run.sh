#!/usr/bin/env bash
# Ground-truth demonstration: builds a suite on a bundled network with `ppnn groundtruth`, runs
# Marabou (maraboupy 2.0 from PyPI, one worker, per-instance time limit) on it through its own
# ONNX + VNN-LIB interface, and grades the answers with `ppnn score`.
#
# With --neuralsat, also runs NeuralSAT (the `neuralsat` package from PyPI: search over
# auto_LiRPA/CROWN bounds; it pulls PyTorch, ~3 GB with its CUDA libraries, run here on the CPU).
#
# Usage: scripts/groundtruth/run.sh [--inputs N] [--timeout SECS] [--out DIR] [--model ONNX] [--neuralsat]
#   --inputs N     the first input of each class, then the second…, N in all (default 10)
#   --timeout S    Marabou's time limit per instance (default 60)
#   --out DIR      work directory (default target/groundtruth-demo); the suite is DIR/suite,
#                  Marabou's results DIR/marabou, the report DIR/marabou-score.md
# Needs python3 with venv; the virtual environment (maraboupy, onnx, onnxruntime) is made in
# DIR/venv on the first run.
set -euo pipefail
cd "$(dirname "$0")/../.."

inputs=10
timeout=60
out=target/groundtruth-demo
model=data/networks/mnist-784-32-10.onnx
neuralsat=0
while [ $# -gt 0 ]; do
    case "$1" in
        --inputs) inputs="$2"; shift 2 ;;
        --timeout) timeout="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --model) model="$2"; shift 2 ;;
        --neuralsat) neuralsat=1; shift ;;
        *) echo "unknown option '$1' (see the header of $0)" >&2; exit 1 ;;
    esac
done
mkdir -p "$out"

cargo build --release
ppnn="${CARGO_TARGET_DIR:-target}/release/ppnn"

files=()
for k in 1 2 3 4 5; do
    for c in 0 1 2 3 4 5 6 7 8 9; do
        [ "${#files[@]}" -lt "$inputs" ] && files+=("data/inputs/mnist/$c-$k.csv")
    done
done

echo "== suite: ${#files[@]} inputs x 6 factors on $model"
start=$SECONDS
"$ppnn" groundtruth "$model" "${files[@]}" \
    --class-from-labels --out "$out/suite" --instance-timeout "$timeout"
echo "groundtruth: $((SECONDS - start)) s wall"

if [ ! -x "$out/venv/bin/python" ]; then
    python3 -m venv "$out/venv"
    "$out/venv/bin/pip" install --quiet 'maraboupy==2.0.0' onnx onnxruntime
fi
echo "== Marabou (one worker, ${timeout} s per instance)"
rm -rf "$out/marabou"
start=$SECONDS
"$out/venv/bin/python" -W ignore \
    scripts/groundtruth/run_marabou.py "$out/suite" "$out/marabou" --timeout "$timeout" \
    | tee "$out/marabou.log"
echo "marabou: $((SECONDS - start)) s wall"

tools=(marabou)
if [ "$neuralsat" = 1 ]; then
    if [ ! -x "$out/venv-neuralsat/bin/python" ]; then
        python3 -m venv "$out/venv-neuralsat"
        "$out/venv-neuralsat/bin/pip" install --quiet neuralsat
    fi
    echo "== NeuralSAT (CPU, one thread, ${timeout} s per instance)"
    rm -rf "$out/neuralsat"
    start=$SECONDS
    python3 scripts/groundtruth/run_neuralsat.py \
        "$out/venv-neuralsat/bin/python" "$out/suite" "$out/neuralsat" --timeout "$timeout" \
        | tee "$out/neuralsat.log"
    echo "neuralsat: $((SECONDS - start)) s wall"
    tools+=(neuralsat)
fi

for tool in "${tools[@]}"; do
    echo "== score: $tool (strict, then with VNN-COMP's output tolerance 1e-4)"
    set +e
    "$ppnn" score "$out/suite" "$out/$tool/results.csv" --plot "$out/$tool-score.png" \
        --json "$out/$tool-graded.jsonl" | tee "$out/$tool-score.md"
    code=${PIPESTATUS[0]}
    "$ppnn" score "$out/suite" "$out/$tool/results.csv" --output-tolerance 1e-4 \
        | tee "$out/$tool-score-tol.md"
    set -e
    echo "ppnn score exit code (strict): $code (2 = wrong answers found)"
done
"$ppnn" summarize "$out/suite/key/brackets.jsonl" --curve "$out/curve.png" \
    --curve-csv "$out/curve.csv" $(for t in "${tools[@]}"; do echo --compare "$out/$t-graded.jsonl"; done) \
    > /dev/null
echo "robustness distribution: $out/curve.png, $out/curve.csv"
