# Sourced by slurm-up.sh and slurm-down.sh: whether a daemon runs, and stopping one.

# True when the pid in pid file $2 is a live (not zombie) process named $1. (PID 1 here
# reaps orphans late, so a stopped daemon may linger as a zombie under its name.)
running() {
  local p s; p=$(cat "$2" 2>/dev/null) && s=$(cat "/proc/$p/stat" 2>/dev/null) &&
    [[ $s == "$p ($1) "[^Z]* ]]
}

# Stops the daemon named $1 whose pid file is $2, waiting (at most 10 s) for it to go;
# adds its name to the array `stopped`.
stop() {
  running "$1" "$2" || return 0
  kill "$(cat "$2")" 2>/dev/null || true
  for _ in $(seq 50); do running "$1" "$2" || { stopped+=("$1"); return 0; }; sleep 0.2; done
  echo "$(basename "$0" .sh): $1 did not stop" >&2; exit 1
}
