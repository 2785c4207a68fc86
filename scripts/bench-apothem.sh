#!/usr/bin/env bash
# Cyclic-family benchmark: exact `apothem` and the paper's `c-bu-d` (delta = 0.1) on every
# bundled MNIST and Fashion-MNIST input, and on the authors' 50 MNIST inputs when
# ../shared/reference exists. One input at a time; prints per-input rows and median/max.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ppnn-target}"
cargo build --release --example bench_certify -q
bin="$CARGO_TARGET_DIR/release/examples/bench_certify"
"$bin" data/networks/mnist-784-32-10.onnx data/inputs/mnist apothem,c-bu-d delta=0.1 "$@"
"$bin" data/networks/fmnist-784-64-10.onnx data/inputs/fmnist apothem,c-bu-d delta=0.1 "$@"
if [ -f ../shared/reference/mnist_nn-32.onnx ]; then
  "$bin" ../shared/reference/mnist_nn-32.onnx ../shared/reference/mnist-inputs apothem,c-bu-d delta=0.1 "$@"
fi
