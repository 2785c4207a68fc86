#!/usr/bin/env bash
# VNN-COMP: prepare_instance.sh v1 CATEGORY ONNX VNNLIB — nothing to convert (the solver reads
# ONNX and VNN-LIB, gzipped or not); checks that the files and the solver are there.
set -euo pipefail
if [[ "${1:-}" != "v1" || $# -ne 4 ]]; then
    echo "usage: $0 v1 CATEGORY ONNX VNNLIB" >&2
    exit 1
fi
repo="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${PPNN_VNNLIB:-${CARGO_TARGET_DIR:-$repo/target}/release/ppnn-vnnlib}"
for f in "$3" "$4" "$bin"; do
    if [[ ! -r "$f" ]]; then
        echo "prepare_instance.sh: cannot read $f" >&2
        exit 1
    fi
done
exit 0
