#!/usr/bin/env bash
# VNN-COMP: install_tool.sh v1 — installs the build dependencies and builds ppnn (release).
# The binaries land in ${CARGO_TARGET_DIR:-<repo>/target}/release; run_instance.sh finds them
# there (or at $PPNN_VNNLIB).
set -euo pipefail
if [[ "${1:-}" != "v1" ]]; then
    echo "usage: $0 v1" >&2
    exit 1
fi
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
./scripts/install-build-deps.sh
cargo build --release --bins
echo "install_tool.sh: built $(ls "${CARGO_TARGET_DIR:-$repo/target}/release/ppnn-vnnlib")"
