#!/usr/bin/env bash
# Starts a one-node Slurm cluster on this machine (Debian 12, as root, no systemd), idempotently:
# installs Debian's Slurm + MUNGE if missing, writes /etc/slurm/slurm.conf for this host, starts
# munged, slurmctld and slurmd directly, and waits until the node takes jobs. A second run only
# checks. Jobs run as root, in the submit directory; e.g.
#   sbatch --wait --array=0-3 --output=/tmp/x/%A_%a.out job.sh
# scripts/slurm-down.sh stops it all again.
set -euo pipefail

did=()
stopped=()
node=$(hostname -s)
conf=/etc/slurm/slurm.conf

# 1. Packages (no recommends: they pull in mail and X11 tools).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
   ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
  did+=(installed)
fi

source "$(dirname "$0")/slurm-daemons.sh"

# 2. MUNGE: a key, then munged as the munge user (it refuses to run as root).
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
  runuser -u munge -- /usr/sbin/munged
  did+=(munged)
fi

# 3. slurm.conf for this host alone; NodeAddr/ControlAddr 127.0.0.1 so no name lookup matters.
# cons_tres + CR_Core: each task takes one core, so two 1-CPU array tasks run at once on 2 cores.
# linuxproc + task/none + no accounting: no cgroup plugin is loaded, so no cgroup.conf is needed.
# MinJobAge=5: finished jobs are forgotten soon, which keeps `sbatch --wait` polling every 2 s
# (it backs off to 8 s and 32 s while MinJobAge/2 allows); there is no accounting to ask later.
mem=$(( $(awk '/^MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
want="# Written by scripts/slurm-up.sh: a one-node test cluster.
ClusterName=local
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ReturnToService=2
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
MinJobAge=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP"
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  printf '%s\n' "$want" >"$conf"
  did+=(configured)
  # Daemons running on an old config: restart them on the new one.
  stop slurmd /run/slurmd.pid
  stop slurmctld /run/slurmctld.pid
fi

# 4. The daemons (each forks into the background itself).
running slurmctld /run/slurmctld.pid || { slurmctld; did+=(slurmctld); }
running slurmd /run/slurmd.pid || { slurmd; did+=(slurmd); }

# 5. Wait (at most 60 s) for the node to take jobs; resume it if it came up down or drained.
for _ in $(seq 60); do
  state=$(sinfo -h -n "$node" -o %t 2>/dev/null || true)
  case $state in
    idle|mix|alloc|comp) echo "slurm-up: ${did[*]:-already running}; node $node $state"; exit 0 ;;
    down|drain|drng) if scontrol update nodename="$node" state=resume 2>/dev/null; then
                       did+=(resumed); fi ;;
  esac
  sleep 1
done
echo "slurm-up: node $node not ready after 60 s (state '${state:-none}'; see /var/log/slurm/)" >&2
exit 1
