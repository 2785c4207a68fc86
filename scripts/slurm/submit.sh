#!/usr/bin/env bash
# Submits a `ppnn batch` matrix to Slurm as a job array, and a merge + summarize job that runs
# when every task has ended (--dependency=afterany).
#
#   scripts/slurm/submit.sh [OPTIONS] -- MODEL INPUTS... --out FILE [ppnn batch options]
#
# Options:
#   --cpus-per-task C    CPUs per task = pairs run in parallel in it (default 4)
#   --pairs-per-task P   pairs per task (default C: one round); N = ceil(pairs / P)
#   --tasks N            the number of tasks, instead of computing it from P
#   --time MINUTES       per-task time limit (default: rounds × the pair --timeout × 1.25 + 5
#                        minutes, rounds = ceil(P / C); no limit is set without --timeout)
#   --only LIST          submit only these tasks of the array (e.g. 3 or 2,5-7), with the same N:
#                        to resubmit tasks that failed or hit their time limit; they resume
#   --no-merge           do not chain the merge + summarize job
#   --ppnn PATH          the ppnn binary, on a file system the nodes share (default:
#                        $CARGO_TARGET_DIR/release/ppnn, else target/release/ppnn)
#   --sbatch-args "..."  extra sbatch options for every job (partition, account, memory, ...)
#   --dry-run            print the sbatch commands instead of running them
#
# Results: STEM.K-of-N.jsonl per task beside --out; the merge job writes --out itself and
# STEM-summary.md, STEM-min-edge.png, STEM-time.png. Logs: STEM-slurm-%A_%a.log beside --out.
# Prints the array's and the merge job's ids.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cpus=4
per_task=""
tasks=""
time_min=""
only=""
merge=1
ppnn=""
extra=""
dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cpus-per-task) cpus="$2"; shift ;;
    --pairs-per-task) per_task="$2"; shift ;;
    --tasks) tasks="$2"; shift ;;
    --time) time_min="$2"; shift ;;
    --only) only="$2"; shift ;;
    --no-merge) merge=0 ;;
    --ppnn) ppnn="$2"; shift ;;
    --sbatch-args) extra="$2"; shift ;;
    --dry-run) dry=1 ;;
    --) shift; break ;;
    *) echo "submit: unknown option '$1' (ppnn batch's arguments go after --)" >&2; exit 2 ;;
  esac
  shift
done
batch_args=("$@")
[ ${#batch_args[@]} -gt 0 ] || { echo "submit: no ppnn batch arguments after --" >&2; exit 2; }
is_count() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }
is_count "$cpus" || { echo "submit: --cpus-per-task must be a positive integer, got '$cpus'" >&2; exit 2; }
[ -z "$per_task" ] || is_count "$per_task" || { echo "submit: --pairs-per-task must be a positive integer, got '$per_task'" >&2; exit 2; }
[ -z "$tasks" ] || is_count "$tasks" || { echo "submit: --tasks must be a positive integer, got '$tasks'" >&2; exit 2; }
[ -z "$time_min" ] || is_count "$time_min" || { echo "submit: --time must be a positive number of minutes, got '$time_min'" >&2; exit 2; }

# The options this script owns, and the ones it reads.
out="" timeout=""
for ((i = 0; i < ${#batch_args[@]}; i++)); do
  a="${batch_args[$i]}"
  case "$a" in
    --shard|--shard=*|--jobs|--jobs=*|--dry-run)
      echo "submit: do not pass $a: each task gets --shard K/N and --jobs = its CPUs" >&2; exit 2 ;;
    --out) out="${batch_args[$((i + 1))]:-}" ;;
    --out=*) out="${a#--out=}" ;;
    --timeout) timeout="${batch_args[$((i + 1))]:-}" ;;
    --timeout=*) timeout="${a#--timeout=}" ;;
  esac
done
[ -n "$out" ] || { echo "submit: the ppnn batch arguments need --out FILE" >&2; exit 2; }

if [ -z "$ppnn" ]; then
  ppnn="${CARGO_TARGET_DIR:-target}/release/ppnn"
fi
[ -x "$ppnn" ] || { echo "submit: ppnn binary '$ppnn' not found: build it (cargo build --release) or pass --ppnn" >&2; exit 1; }
ppnn="$(cd "$(dirname "$ppnn")" && pwd)/$(basename "$ppnn")"

# The matrix, as ppnn sees it (this also checks the model, inputs and options).
errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
if ! list="$(env -u SLURM_ARRAY_TASK_ID "$ppnn" batch "${batch_args[@]}" --dry-run 2>"$errors")"; then
  cat "$errors" >&2
  exit 1
fi
pairs="$(printf '%s' "$list" | grep -c . || true)"
[ "$pairs" -gt 0 ] || { echo "submit: the matrix is empty" >&2; exit 1; }
if [ -z "$tasks" ]; then
  per_task="${per_task:-$cpus}"
  tasks=$(( (pairs + per_task - 1) / per_task ))
fi
# Shards are balanced by estimated cost, not by count: the time limit follows the largest.
per_task=0
for ((k = 1; k <= tasks; k++)); do
  n="$(env -u SLURM_ARRAY_TASK_ID "$ppnn" batch "${batch_args[@]}" --shard "$k/$tasks" --dry-run 2>/dev/null | grep -c . || true)"
  [ "$n" -gt "$per_task" ] && per_task="$n"
done
rounds=$(( (per_task + cpus - 1) / cpus ))
time_opt=()
if [ -n "$time_min" ]; then
  time_opt=(--time="$time_min")
elif [ -n "$timeout" ]; then
  minutes="$(awk -v r="$rounds" -v t="$timeout" 'BEGIN { m = r * t * 1.25 / 60 + 5; printf "%d", (m == int(m)) ? m : int(m) + 1 }')"
  time_opt=(--time="$minutes")
fi

[ "$dry" = 1 ] || mkdir -p "$(dirname "$out")"
base="$(basename "$out")"
case "$base" in *.*) base="${base%.*}" ;; esac
outdir="$(dirname "$out")"
case "$outdir" in /*) ;; *) outdir="$PWD/$outdir" ;; esac
stem="$outdir/$base"
array="${only:-1-$tasks}"
# shellcheck disable=SC2206 # --sbatch-args is a list of options, split on spaces on purpose
extra_args=($extra)
array_cmd=(sbatch --parsable --chdir="$PWD" --array="$array" --cpus-per-task="$cpus" "${time_opt[@]}"
  --output="$stem-slurm-%A_%a.log" "${extra_args[@]}" "$here/batch-array.sbatch" "$tasks" "$ppnn"
  "${batch_args[@]}")
limit="no time limit set (the partition's default applies; pass --timeout to ppnn batch or --time)"
[ ${#time_opt[@]} -eq 0 ] || limit="time limit ${time_opt[0]#--time=} min per task"
echo "submit: $pairs pairs in $tasks task(s) of up to $per_task pairs on $cpus CPU(s), $limit; array $array" >&2
if [ "$dry" = 1 ]; then
  printf '%q ' "${array_cmd[@]}"; echo
  job="ARRAY_JOB_ID"
else
  job="$("${array_cmd[@]}")"
  job="${job%%;*}"
  echo "array job $job"
fi
if [ "$merge" = 1 ]; then
  merge_cmd=(sbatch --parsable --chdir="$PWD" --dependency="afterany:$job" --kill-on-invalid-dep=no
    --time=60 --output="$stem-slurm-merge-%j.log" "${extra_args[@]}" "$here/merge.sbatch" "$tasks" "$ppnn" "$out")
  if [ "$dry" = 1 ]; then
    printf '%q ' "${merge_cmd[@]}"; echo
  else
    mjob="$("${merge_cmd[@]}")"
    echo "merge job ${mjob%%;*} (after $job): $out, $stem-summary.md"
  fi
fi
