#!/usr/bin/env bash
# `make dev`: the whole stack on this machine, no Docker. Starts the local broker and Postgres, then every
# worker, with each line of output prefixed by its process name. Ctrl-C stops everything cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

run_dir=.run/dev
swift build
scripts/services.sh stop "$run_dir" > /dev/null 2>&1 || true
scripts/services.sh start "$run_dir"
# shellcheck disable=SC1091
source "$run_dir/env"
# The broker's fault-injection port and Postgres' state dir are for tests, not for the workers.
unset RAG_BROKER_CONTROL_URL RAG_POSTGRES_STATE_DIR
export RAG_LOG_LEVEL=${RAG_LOG_LEVEL:-info}

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo "stopping…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  scripts/services.sh stop "$run_dir"
  exit "${1:-0}"
}
trap 'stop_all 0' INT TERM
trap 'stop_all $?' EXIT

run() {
  local name=$1
  shift
  env "$@" ".build/debug/$name" > >(sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
}

# Development keys (.data/dev-keys, made on first use): the gateway verifies with the public key, and its
# browser UI (POST /dev/token) and `ragctl token` sign with the private key.
keys_dir=${RAG_DEV_KEYS_DIR:-.data/dev-keys}
RAG_DEV_KEYS_DIR="$keys_dir" .build/debug/ragctl token --sub dev --tier free > /dev/null
# Each worker gets only the variables it reads, so none warns of an unrecognized one.
run gateway -u RAG_DATABASE_URL RAG_HTTP_HOST=127.0.0.1 RAG_HTTP_PORT="${RAG_HTTP_PORT:-8080}" \
  RAG_JWT_PUBLIC_KEY_FILE="$keys_dir/dev-rs256-public.pem" RAG_JWT_KEY_ID=dev-rs256 \
  RAG_JWT_ISSUER=kafka-rag-dev RAG_JWT_AUDIENCE=kafka-rag \
  RAG_GATEWAY_DEV_SIGNING_KEY_FILE="$keys_dir/dev-rs256-private.pem"
run embedder
run rag-chain
run outbox-relay -u RAG_KAFKA_FETCH_WAIT
run review-sampler -u RAG_DATABASE_URL

echo
echo "gateway:        http://127.0.0.1:${RAG_HTTP_PORT:-8080}  (browser UI at /, API description at /openapi.json)"
echo "a token:        .build/debug/ragctl token --sub alice --tier standard --tenant acme --scope chunks:write"
echo "admin ports:    embedder 9101, rag-chain 9102, outbox-relay 9103, review-sampler 9104 (/healthz /readyz /metrics)"
echo "kafka:          $RAG_KAFKA_BOOTSTRAP_SERVERS"
echo "postgres:       $RAG_DATABASE_URL"
echo "Ctrl-C stops everything."
wait -n "${pids[@]}" || true
echo "a process exited; stopping the stack"
stop_all 1
