#!/usr/bin/env bash
# Starts or stops the local backing services: a Kafka-protocol broker (`ragctl broker`) and Postgres with
# pgvector (scripts/local-postgres.sh). Writes RUN_DIR/env with the variables the workers and tests read.
#
#   scripts/services.sh start RUN_DIR   # needs .build/debug/ragctl (make build)
#   scripts/services.sh stop RUN_DIR
#
# A real cluster or database given by RAG_KAFKA_BOOTSTRAP_SERVERS / RAG_DATABASE_URL is used instead of
# starting a local one.
#
# Tests also start Postgres servers of their own (scripts/local-postgres.sh start <temp dir>: fault tests that
# stop or freeze a whole server). RUN_DIR/env sets LOCAL_POSTGRES_REGISTRY=RUN_DIR/postgres-servers, where
# local-postgres.sh lists every server it starts; `stop` stops each one still there, so no postgres process
# outlives the run even when a test (or the test process) ended before stopping its own.
set -euo pipefail
cd "$(dirname "$0")/.."

command=${1:?usage: services.sh start|stop RUN_DIR}
run_dir=${2:?usage: services.sh start|stop RUN_DIR}
ragctl=${RAGCTL:-.build/debug/ragctl}

start() {
  mkdir -p "$run_dir"
  : > "$run_dir/env"
  # The servers started by whoever sources RUN_DIR/env (not this run's own: it is stopped by name).
  registry="$(cd "$run_dir" && pwd -P)/postgres-servers"
  unset LOCAL_POSTGRES_REGISTRY
  if [ -n "${RAG_KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
    echo "kafka: using RAG_KAFKA_BOOTSTRAP_SERVERS=$RAG_KAFKA_BOOTSTRAP_SERVERS"
    echo "export RAG_KAFKA_BOOTSTRAP_SERVERS='$RAG_KAFKA_BOOTSTRAP_SERVERS'" >> "$run_dir/env"
  else
    rm -f "$run_dir/broker/bootstrap" "$run_dir/broker/control.url"
    mkdir -p "$run_dir/broker"
    "$ragctl" broker --state-dir "$run_dir/broker" > "$run_dir/broker/broker.log" 2>&1 &
    echo $! > "$run_dir/broker/pid"
    for _ in $(seq 1 100); do
      [ -s "$run_dir/broker/control.url" ] && break
      kill -0 "$(cat "$run_dir/broker/pid")" 2>/dev/null || { cat "$run_dir/broker/broker.log"; echo "broker failed to start" >&2; exit 1; }
      sleep 0.1
    done
    [ -s "$run_dir/broker/control.url" ] || { echo "broker did not come up; see $run_dir/broker/broker.log" >&2; exit 1; }
    echo "kafka:    $(cat "$run_dir/broker/bootstrap")  (control $(cat "$run_dir/broker/control.url"))"
    echo "export RAG_KAFKA_BOOTSTRAP_SERVERS='$(cat "$run_dir/broker/bootstrap")'" >> "$run_dir/env"
    echo "export RAG_BROKER_CONTROL_URL='$(cat "$run_dir/broker/control.url")'" >> "$run_dir/env"
    # The local broker (librdkafka's mock cluster) holds a fetch that finds nothing for the whole
    # fetch.wait.max.ms even when a record arrives meanwhile; a real broker answers at once. A short wait keeps
    # each consumer hop from adding up to 500 ms: 5 ms adds 2.5 ms per hop on average, for ~200 empty fetches
    # a second per consumer and broker (the local broker then uses ~0.1 core).
    echo "export RAG_KAFKA_FETCH_WAIT=5ms" >> "$run_dir/env"
  fi
  if [ -n "${RAG_DATABASE_URL:-}" ]; then
    echo "postgres: using RAG_DATABASE_URL"
    echo "export RAG_DATABASE_URL='$RAG_DATABASE_URL'" >> "$run_dir/env"
  else
    scripts/local-postgres.sh start "$run_dir/postgres" > /dev/null
    echo "postgres: $(cat "$run_dir/postgres/database.url")"
    echo "export RAG_DATABASE_URL='$(cat "$run_dir/postgres/database.url")'" >> "$run_dir/env"
    echo "export RAG_POSTGRES_STATE_DIR='$run_dir/postgres'" >> "$run_dir/env"
  fi
  echo "export LOCAL_POSTGRES_REGISTRY='$registry'" >> "$run_dir/env"
}

# Stops the Postgres servers listed in RUN_DIR/postgres-servers that are still running (or paused).
stop_registered_postgres() {
  local registry=$run_dir/postgres-servers dir existed
  [ -f "$registry" ] || return 0
  sort -u "$registry" | while IFS= read -r dir; do
    [ -n "$dir" ] || continue
    existed=yes
    [ -d "$dir" ] || existed=""
    if scripts/local-postgres.sh status "$dir" > /dev/null 2>&1; then
      echo "services: stopping the Postgres a test left running ($dir)" >&2
    fi
    # Also cleans up a paused server's data; stopping a server that is gone is a no-op.
    scripts/local-postgres.sh stop "$dir" > /dev/null 2>&1 || true
    [ -n "$existed" ] || rmdir "$dir" 2> /dev/null || true
  done
  rm -f "$registry"
}

stop() {
  if [ -f "$run_dir/broker/pid" ]; then
    pid=$(cat "$run_dir/broker/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$run_dir/broker/pid"
  fi
  stop_registered_postgres
  if [ -d "$run_dir/postgres" ]; then
    scripts/local-postgres.sh stop "$run_dir/postgres" > /dev/null || true
  fi
}

case "$command" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: services.sh start|stop RUN_DIR" >&2; exit 2 ;;
esac
