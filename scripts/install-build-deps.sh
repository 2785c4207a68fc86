#!/usr/bin/env bash
# Installs the system packages needed to build ppnn on Debian/Ubuntu. HiGHS is compiled from
# source by the highs-sys crate: that needs cmake, a C++ compiler, and libclang for bindgen.
#
# Each need is decided from what the build actually uses, not from a package name that merely
# looks right: bindgen (through clang-sys) loads `libclang.so`, `libclang-N.so` or their
# versioned forms; `libclang-cpp.so.N` (package libclang-cppN, shipped by some images) is a
# different library that bindgen cannot use, so it must not count.
#
# Idempotent: a second run finds everything and installs nothing. Works as root or, through
# sudo, as another user. Prints exactly one line saying what it installed or that nothing was
# needed.
#
# Usage: install-build-deps.sh [--dry-run]
#   --dry-run   print the packages that would be installed (one line, possibly empty) and exit
#
# For tests of the decision logic (no effect in normal use):
#   PPNN_DEPS_ROOT  prefix under which library directories are searched (default: /)
#   PPNN_DEPS_PATH  the PATH used to look for cmake and the C++ compiler (default: $PATH)
# LIBCLANG_PATH, when set, is respected as bindgen respects it: a directory holding libclang.
set -euo pipefail

dry_run=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-build-deps.sh: unknown option '$arg' (expected --dry-run)" >&2; exit 2 ;;
  esac
done

root="${PPNN_DEPS_ROOT:-}"
root="${root%/}"
lookup_path="${PPNN_DEPS_PATH:-$PATH}"

have_command() {
  PATH="$lookup_path" command -v "$1" >/dev/null 2>&1
}

# True when DIR holds a library that clang-sys accepts as libclang: libclang.so[.N...] or
# libclang-N[.M...].so[.N...] — the version after the dash starts with a digit, so
# libclang-cpp.so.* never matches.
dir_has_libclang() {
  local dir="$1" f base
  [ -d "$dir" ] || return 1
  for f in "$dir"/libclang.so "$dir"/libclang.so.* "$dir"/libclang-[0-9]*.so "$dir"/libclang-[0-9]*.so.*; do
    [ -e "$f" ] || continue
    base="${f##*/}"
    case "$base" in
      libclang-cpp*) continue ;;
    esac
    return 0
  done
  return 1
}

have_libclang() {
  if [ -n "${LIBCLANG_PATH:-}" ]; then
    # bindgen looks only there when it is set (a file path names the library itself).
    if [ -f "$LIBCLANG_PATH" ]; then return 0; fi
    dir_has_libclang "$LIBCLANG_PATH"
    return
  fi
  local d
  for d in "$root"/usr/lib/llvm-*/lib "$root"/usr/lib/*-linux-gnu "$root"/lib/*-linux-gnu \
           "$root"/usr/lib "$root"/usr/lib64 "$root"/usr/local/lib "$root"/lib; do
    if dir_has_libclang "$d"; then return 0; fi
  done
  return 1
}

missing=()
have_command cmake || missing+=(cmake)
if ! have_command c++ && ! have_command g++ && ! have_command clang++; then
  missing+=(g++)
fi
if ! have_libclang; then
  if [ -n "${LIBCLANG_PATH:-}" ]; then
    echo "install-build-deps.sh: LIBCLANG_PATH=$LIBCLANG_PATH holds no libclang.so or libclang-N.so; unset it or point it at the directory that does" >&2
    exit 1
  fi
  missing+=(libclang-dev)
fi

if [ "$dry_run" -eq 1 ]; then
  echo "${missing[*]:-}"
  exit 0
fi

if ! have_command cargo; then
  echo "install-build-deps.sh: cargo (Rust) is not installed; install it from https://rustup.rs first" >&2
  exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "build dependencies: nothing to install (cmake, C++ compiler and libclang present)"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-build-deps.sh: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  sudo="sudo"
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-build-deps.sh: no apt-get here; install these by hand: ${missing[*]}" >&2
  exit 1
fi
# apt's chatter (debconf notices and the like) goes to a log, shown only when it fails.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { $sudo apt-get update -qq && \
       $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-build-deps.sh: apt-get could not install: ${missing[*]}" >&2
  exit 1
fi

# Re-check: the install must have produced what the build loads.
missing_after=()
have_command cmake || missing_after+=(cmake)
if ! have_command c++ && ! have_command g++ && ! have_command clang++; then missing_after+=(g++); fi
have_libclang || missing_after+=(libclang)
if [ ${#missing_after[@]} -gt 0 ]; then
  echo "install-build-deps.sh: installed ${missing[*]} but still missing: ${missing_after[*]}" >&2
  exit 1
fi
echo "build dependencies: installed ${missing[*]}"
