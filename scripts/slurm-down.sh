#!/usr/bin/env bash
# Stops the one-node Slurm cluster that scripts/slurm-up.sh started: cancels every job, then
# stops slurmd, slurmctld and munged. Idempotent: fine when nothing runs or nothing is installed.
set -euo pipefail

source "$(dirname "$0")/slurm-daemons.sh"

stopped=()
if running slurmctld /run/slurmctld.pid; then
  squeue -h -o %A 2>/dev/null | xargs -r scancel 2>/dev/null || true
  for _ in $(seq 25); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
fi
stop slurmd /run/slurmd.pid
stop slurmctld /run/slurmctld.pid
stop munged /run/munge/munged.pid
echo "slurm-down: ${stopped[*]:-nothing was running}"
