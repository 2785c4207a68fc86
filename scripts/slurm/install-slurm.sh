#!/usr/bin/env bash
# Installs what the local single-node Slurm test needs (Debian packages): slurmctld, slurmd,
# the client commands (sbatch, squeue, scancel, scontrol) and munge. Prints one line saying
# what it installed or that nothing was needed. Runs as root or through sudo.
#
#   scripts/slurm/install-slurm.sh [--dry-run]
set -euo pipefail

dry=0
[ "${1:-}" = "--dry-run" ] && dry=1

# For tests of the decision (as in install-build-deps.sh): PPNN_DEPS_PATH is the PATH searched,
# PPNN_DEPS_ROOT the prefix of /usr/sbin.
lookup_path="${PPNN_DEPS_PATH:-$PATH}"
root="${PPNN_DEPS_ROOT:-}"
root="${root%/}"
missing=()
for pair in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
  cmd="${pair%%:*}" pkg="${pair#*:}"
  # munged lives in /usr/sbin, which a non-root PATH may lack.
  if ! PATH="$lookup_path" command -v "$cmd" >/dev/null 2>&1 && [ ! -x "$root/usr/sbin/$cmd" ]; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-slurm: nothing to install (slurmctld, slurmd, slurm-client, munge present)"
  exit 0
fi
if [ "$dry" = 1 ]; then
  echo "install-slurm: would install ${missing[*]}"
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-slurm: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
# The packages' postinst scripts would start system daemons through their init scripts (a
# munged on the system socket); the test starts its own. A policy-rc.d that refuses (as in
# container images) keeps them from starting; one written here is removed afterwards.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# Written by ppnn scripts/slurm/install-slurm.sh during apt-get install.\nexit 101\n' \
    | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  trap '$sudo rm -f "$policy"' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-slurm: installed ${missing[*]}"
