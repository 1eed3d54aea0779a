#!/usr/bin/env bash
# Stops the one-node Slurm cluster that scripts/slurm-up.sh started: cancels every job, then
# stops slurmd, slurmctld and munged. Idempotent: fine when nothing runs or nothing is installed.
set -euo pipefail

# True when the pid in pid file $2 is a live (not zombie) process named $1.
running() {
  local p s; p=$(cat "$2" 2>/dev/null) && s=$(cat "/proc/$p/stat" 2>/dev/null) &&
    [[ $s == "$p ($1) "[^Z]* ]]
}

# Stops the daemon named $1 whose pid file is $2, waiting (at most 10 s) for it to go.
stop() {
  running "$1" "$2" || return 0
  kill "$(cat "$2")" 2>/dev/null || true
  for _ in $(seq 50); do running "$1" "$2" || { stopped+=("$1"); return 0; }; sleep 0.2; done
  echo "slurm-down: $1 did not stop" >&2; exit 1
}

stopped=()
if running slurmctld /run/slurmctld.pid; then
  squeue -h -o %A 2>/dev/null | xargs -r scancel 2>/dev/null || true
  for _ in $(seq 25); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
fi
stop slurmd /run/slurmd.pid
stop slurmctld /run/slurmctld.pid
stop munged /run/munge/munged.pid
echo "slurm-down: ${stopped[*]:-nothing was running}"
