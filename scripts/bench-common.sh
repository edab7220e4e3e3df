# Sourced by the bench scripts: logging, the processes a bench starts (all stopped when it exits, the last
# started first), readiness waits and CPU accounting.
#
# The sourcing script sets, before sourcing:
#   bench_name            prefix of log lines, e.g. bench-gateway
#   bench_run_dir         the run directory: deleted on success, kept (and named) on failure or BENCH_KEEP=1
#   bench_stop_grace      seconds a process gets between TERM and KILL
# and may define bench_stop_more, called on exit after the processes are stopped.

# Python packages come from the project venv that `make deps` creates (the scripts run from the repo root).
PATH="$PWD/.data/venv/bin:$PATH"

log() { echo "$bench_name: $*" >&2; }
die() { log "$*"; exit 1; }

all_pids=()  # every process started, in start order; append with all_pids+=("$!")

stop_pids() {  # PID...: TERM, up to bench_stop_grace seconds, then KILL
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2> /dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 1 $((bench_stop_grace * 10))); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  done
}

bench_cleanup() {
  local status=$?
  trap - EXIT INT TERM
  local reversed=() i  # clients before servers, so that producers can flush to the broker
  for ((i = ${#all_pids[@]} - 1; i >= 0; i--)); do reversed+=("${all_pids[i]}"); done
  [ ${#reversed[@]} -eq 0 ] || stop_pids "${reversed[@]}"
  if declare -F bench_stop_more > /dev/null; then bench_stop_more; fi
  if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$status" -ne 0 ]; then
    log "logs kept in $bench_run_dir"
  else
    rm -rf "$bench_run_dir"
  fi
  exit "$status"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

wait_http_200() {  # URL PID LOGFILE: waits up to 60 s for URL to answer 200 while PID lives
  for _ in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2> /dev/null)" = 200 ] && return 0
    kill -0 "$2" 2> /dev/null || { cat "$3" >&2; die "process $2 exited before $1 answered"; }
    sleep 0.1
  done
  cat "$3" >&2
  die "$1 did not answer 200 within 60 s"
}

cpu_ticks() {  # PID...: utime+stime of those still alive, in clock ticks
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
  done
  echo "$total"
}
