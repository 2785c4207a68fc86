#!/usr/bin/env bash
# Installs the Python tools the VNN-LIB tests use into a virtual environment (no system packages
# are touched): vnnlib-satisfactory (the VNN-LIB 2.0 CLI test suite, which brings onnx,
# onnxscript and onnxruntime) and numpy. Prints the venv's python path on the last line.
#
#   scripts/install-vnnlib-tools.sh [--dev]     # --dev adds the `vnnlib` parser package
#
# The venv is $PPNN_VENV (default /var/tmp/ppnn-venv). Python >= 3.11 with venv is required;
# on Debian the script installs python3 and python3-venv when missing (as root or through sudo).
#   scripts/install-vnnlib-tools.sh --dry-run   # prints the Debian packages it would install
# For tests of that decision: PPNN_DEPS_PATH is the PATH searched for python3.
set -euo pipefail
venv="${PPNN_VENV:-/var/tmp/ppnn-venv}"
extra=()
dry=0
case "${1:-}" in
  --dev) extra=(vnnlib) ;;
  --dry-run) dry=1 ;;
  "") ;;
  *) echo "install-vnnlib-tools: unknown option '$1' (expected --dev or --dry-run)" >&2; exit 2 ;;
esac

# A python3 with the venv module (Debian ships it apart, as python3-venv).
has_python() {
  PATH="${PPNN_DEPS_PATH:-$PATH}" python3 -c 'import ensurepip, venv' >/dev/null 2>&1
}
if [[ $dry -eq 1 ]]; then
  if has_python; then echo ""; else echo "python3 python3-venv"; fi
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
if ! has_python; then
    # Debian: python3 (3.11 on bookworm) and its venv module.
    $sudo apt-get update -qq >&2 && $sudo apt-get install -y -qq python3 python3-venv >&2
fi
if ! python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    echo "install-vnnlib-tools: python3 >= 3.11 is required (vnnlib-satisfactory needs it)" >&2
    exit 1
fi
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv" >&2
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    "vnnlib-satisfactory==1.0.1" numpy "${extra[@]}" >&2
"$venv/bin/python" -c 'import onnxruntime, numpy, onnx' >&2
echo "$venv/bin/python"
