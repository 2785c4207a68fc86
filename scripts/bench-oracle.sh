#!/usr/bin/env bash
# Oracle benchmark (issue "core"): per-question time by deciding method at radii 0.005..0.1 on
# the authors' network and 10 of its inputs (when ../shared/reference exists), else on the
# bundled 784-32-10 MNIST network. Prints markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ppnn-target}"
cargo build --release --example bench_oracle -q
bin="$CARGO_TARGET_DIR/release/examples/bench_oracle"
if [ -f ../shared/reference/mnist_nn-32.onnx ]; then
  "$bin" ../shared/reference/mnist_nn-32.onnx ../shared/reference/mnist-inputs 10 0.005,0.01,0.02,0.05,0.1
else
  "$bin" data/networks/mnist-784-32-10.onnx data/inputs/mnist 10 0.005,0.01,0.02,0.05,0.1
fi
