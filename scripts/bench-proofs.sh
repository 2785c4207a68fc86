#!/usr/bin/env bash
# Proof files: solve time, proof-writing time, proof size and independent check time, for the
# exact `apothem` on the bundled MNIST and Fashion-MNIST inputs, and for VNN-COMP-style L∞
# ε-boxes on the bundled 784-256-256-10 MNIST network; dual (completeness) proofs on the bundled
# MNIST network and on 50 random inputs of the ACAS-like network; VNN-LIB property proofs of the
# bundled VNN-COMP-style benchmarks. One input at a time; prints per-input
# rows and a median/max summary per set. Extra key=value options go to every run (e.g.
# max-inputs=10, timeout=60 seconds per apothem run, query-timeout=30).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ppnn-target}"
cargo build --release --example bench_proofs -q
bin="$CARGO_TARGET_DIR/release/examples/bench_proofs"
"$bin" data/networks/mnist-784-32-10.onnx data/inputs/mnist apothem "$@"
"$bin" data/networks/fmnist-784-64-10.onnx data/inputs/fmnist apothem "$@"
"$bin" data/networks/mnist-784-256-256-10.onnx data/inputs/mnist eps=0.005,0.01,0.02 "$@"
"$bin" data/networks/mnist-784-32-10.onnx data/inputs/mnist dual=dual max-inputs=10 timeout=60
"$bin" data/vnncomp/acasxu_like/onnx/acasxu-like-5-16-16-5.onnx random:50:7 dual=dual timeout=60
"$bin" vnnlib data/vnncomp/acasxu_like
"$bin" vnnlib data/vnncomp/mnist_fc_ppnn timeout=30
