#!/usr/bin/env bash
# The whole test suite: README step 2, and what .ci/run runs after installing the build
# dependencies. Installs the test tools it needs first (each installer is idempotent and says
# in one line what it did):
#   - the VNN-LIB Python tools in a venv (vnnlib-satisfactory, onnxruntime for float32 replays);
#   - Slurm (slurmctld, slurmd, munge) for the single-node cluster test — as root only (its
#     daemons run as root); otherwise that test prints a notice and is skipped.
# Then: `cargo test --release` (with the Slurm test when Slurm could be installed), and the
# VNN-LIB 2.0 standard CLI suite (fails on any failed, suspect or errored case).
set -euo pipefail
cd "$(dirname "$0")/.."
# The build directory: $CARGO_TARGET_DIR when set (.ci/run sets it), else cargo's ./target;
# made absolute, since the VNN-LIB suite runs in a scratch directory.
target="${CARGO_TARGET_DIR:-target}"
case "$target" in
  /*) ;;
  *) target="$PWD/$target" ;;
esac
bin_dir="$target/release"

export PPNN_VENV="${PPNN_VENV:-/var/tmp/ppnn-venv}"
PPNN_PYTHON="$(./scripts/install-vnnlib-tools.sh | tail -n 1)"
export PPNN_PYTHON

# The local cluster's daemons run as root.
if [ "$(id -u)" -eq 0 ]; then
  ./scripts/slurm/install-slurm.sh
  export PPNN_SLURM_TEST=1
else
  echo "test.sh: not root: the local Slurm test is skipped" >&2
fi

cargo test --release

PPNN_VNNLIB="$bin_dir/ppnn-vnnlib" ./scripts/check-vnnlib-satisfactory.sh
