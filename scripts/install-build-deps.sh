#!/usr/bin/env bash
# Installs the system packages needed to build ppnn (HiGHS is compiled from source by the
# highs-sys crate): cmake, a C/C++ compiler and libclang (for bindgen). Idempotent: installs
# only what is missing. Debian/Ubuntu.
set -euo pipefail

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
if ! ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 \
    && ! ls /usr/lib/*/libclang*.so* >/dev/null 2>&1; then
  missing+=(libclang-dev)
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo (Rust) is not installed; see https://rustup.rs" >&2
  exit 1
fi
