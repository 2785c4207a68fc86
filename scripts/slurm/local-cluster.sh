#!/usr/bin/env bash
# A throw-away single-node Slurm cluster on this machine, for tests: munged, slurmctld and slurmd
# started directly (no systemd), everything (configuration, keys, state, logs, sockets) in one
# directory, on ports that do not clash with a real cluster's defaults.
#
#   scripts/slurm/local-cluster.sh start DIR [CPUS]   configure and start; waits until the node
#                                                      is idle; prints `export SLURM_CONF=...`
#   scripts/slurm/local-cluster.sh stop DIR           stop the daemons started in DIR
#
# Client commands (sbatch, squeue, scancel, scontrol) find the cluster through SLURM_CONF.
# Needs root (slurmd runs jobs as their submitting user) and the packages of install-slurm.sh.
# Ports: PPNN_SLURM_PORT (default 16817) for slurmctld, the next one for slurmd.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR [CPUS]" >&2; exit 2; }
[ $# -ge 2 ] || usage
action="$1"
dir="$(mkdir -p "$2" && cd "$2" && pwd)"
cpus="${3:-$(nproc)}"
port="${PPNN_SLURM_PORT:-16817}"
export PATH="$PATH:/usr/sbin:/sbin"

stop_pidfile() { # name pidfile: TERM, then KILL after 10 s
  local name="$1" f="$2" pid
  [ -f "$f" ] || return 0
  pid="$(cat "$f" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    echo "local-cluster: stopped $name ($pid)"
  fi
  rm -f "$f"
}

if [ "$action" = stop ]; then
  # Jobs still running would outlive slurmd as orphaned slurmstepd processes: cancel them first.
  if [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    SLURM_CONF="$dir/slurm.conf" scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    sleep 1
  fi
  stop_pidfile slurmd "$dir/slurmd.pid"
  stop_pidfile slurmctld "$dir/slurmctld.pid"
  stop_pidfile munged "$dir/munge/munged.pid"
  exit 0
fi
[ "$action" = start ] || usage

if [ "$(id -u)" != 0 ]; then
  echo "local-cluster: must run as root (slurmd starts jobs as their users)" >&2
  exit 1
fi
for c in munged mungekey slurmctld slurmd sbatch scontrol sinfo; do
  command -v "$c" >/dev/null || { echo "local-cluster: $c not found (run scripts/slurm/install-slurm.sh)" >&2; exit 1; }
done

# munge: a fresh key; munged insists on private directories.
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
chmod 0700 "$dir/munge"
[ -f "$dir/munge/munge.key" ] || mungekey --create --keyfile="$dir/munge/munge.key" 2>/dev/null \
  || dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 0600 "$dir/munge/munge.key"
socket="$dir/munge/munge.socket"
munged --force --key-file="$dir/munge/munge.key" --socket="$socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
  --seed-file="$dir/munge/munged.seed"

host="$(hostname -s)"
user="$(id -un)"
cat > "$dir/slurm.conf" <<EOF
# Written by scripts/slurm/local-cluster.sh: a single-node test cluster.
ClusterName=ppnn-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# No cgroups (containers, no systemd): plain process tracking, no task binding or accounting.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
# Cancelled tasks get SIGKILL 2 s after SIGTERM; finished jobs stay visible for 10 minutes.
KillWait=2
MinJobAge=600
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
: > "$dir/cgroup.conf"

export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF" -i   # -i: ignore state from an earlier run in the same DIR
slurmd -f "$SLURM_CONF"

# Wait (up to 60 s) for the node to register and become idle.
for _ in $(seq 120); do
  state="$(sinfo -h -N -o '%t' 2>/dev/null | head -n1 || true)"
  case "$state" in
    idle*|mix*|alloc*) echo "local-cluster: node $host is $state ($cpus CPUs); export SLURM_CONF=$SLURM_CONF"; exit 0 ;;
  esac
  sleep 0.5
done
echo "local-cluster: the node did not become idle (last state '${state:-none}'); logs in $dir/log" >&2
tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
exit 1
