#!/usr/bin/env bash
# End-to-end query latency (issue 10): POST /queries → SSE `result` event, through the whole local stack,
# release builds — gateway → rag.queries → rag-chain → answers + outbox → outbox-relay → rag.results →
# gateway → SSE — at a fixed open-loop arrival rate, with instant models, so the pipeline's own overhead is
# what is measured. Two scenarios, each on a fresh broker and Postgres:
#
#   1. fake models: embeddings and chat (RAG_CHAT_PROVIDER=openai) from fake-model-server with no latency,
#      BENCH_FAKE_RATE queries/s (200) — goal p99 ≤ 50 ms;
#   2. MiniLM: the embedded all-MiniLM-L6-v2 as the embedding provider of the embedder and the rag-chain
#      (RAG_EMBEDDING_PROVIDER=minilm, which embeds each question in process), chat still the instant fake
#      server, BENCH_MINILM_RATE queries/s (20).
#
# The consumers' fetch.wait.max.ms is RAG_KAFKA_FETCH_WAIT=5ms, as scripts/services.sh sets it for the local
# broker (librdkafka's mock cluster holds a fetch that finds nothing for the whole wait even when a record
# arrives meanwhile, where a real broker answers at once; see scripts/bench-stack.sh). So each consumer hop
# (rag.queries → rag-chain, rag.results → gateway) may still wait up to ~5 ms that a real cluster would not.
#
# Four tenants each ingest bench/queries/chunks.json first, and every question shares its words with one of
# those chunks, so every query retrieves passages and calls the (instant) chat model. The client
# (bench/queries/sse_latency.py, Python asyncio + aiohttp, on the same 2 cores) sends query i at
# start + i / rate whether or not earlier ones are done, opens GET /results/{query_id} (text/event-stream)
# right after the 202, and takes the time from just before the POST until the `result` event's data line.
# Queries go round-robin to 64 users (4 tenants × 16; RS256 tokens, tier enterprise): the gateway's per-user
# SSE cap (RAG_GATEWAY_SSE_MAX_PER_USER, 16) is kept; its per-user rate limits are raised out of the way.
# Printed per scenario: p50/p90/p99/max and count, against the goal, and the CPU each process used
# (cores busy = CPU seconds / wall seconds, client included; all share the machine's cores); then where the
# time goes (p50/p99 per stage, from the Kafka timestamps of each query's rag.queries and rag.results records,
# its answers row and the claim time of its outbox row; the means of the rag-chain's steps and the relay's
# batches from their /metrics: bench/queries/latency_breakdown.py). Fails (status 1) when a query gets no
# result or an error; a missed goal is printed, not failed.
#
# Tunables (environment):
#   BENCH_FAKE_RATE=200      queries/s of scenario 1
#   BENCH_MINILM_RATE=20     queries/s of scenario 2
#   BENCH_DURATION=20        measured seconds per scenario (after BENCH_WARMUP=3 seconds at the same rate)
#   RAG_MINILM_THREADS=2     threads of the in-process model (embedder and rag-chain)
#   BENCH_KEEP=1             keep the run directory .run/bench-query-latency (logs, per-query CSV) after success
#   BENCH_SKIP_BUILD=1       use the release binaries already in .build/release (no swift build)
set -euo pipefail
cd "$(dirname "$0")/.."

fake_rate=${BENCH_FAKE_RATE:-200}
minilm_rate=${BENCH_MINILM_RATE:-20}
duration=${BENCH_DURATION:-20}
warmup=${BENCH_WARMUP:-3}
minilm_threads=${RAG_MINILM_THREADS:-2}
model_dir=${RAG_MINILM_MODEL_DIR:-.data/models/all-MiniLM-L6-v2}
tenants=4
users_per_tenant=16
goal_p99_ms=50
run_root=.run/bench-query-latency

bench_name=bench-query-latency bench_run_dir=$run_root bench_stop_grace=30
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh
# shellcheck source=scripts/bench-stack.sh
source scripts/bench-stack.sh

python3 -c 'import aiohttp, confluent_kafka' 2> /dev/null || die "aiohttp and confluent-kafka are missing; run 'make bench' (it installs them)"
[ -f "$model_dir/model.safetensors" ] || die "model not found in $model_dir; run 'make deps' (or set RAG_MINILM_MODEL_DIR)"
stack_build
rm -rf "$run_root"
mkdir -p "$run_root"
clk_tck=$(getconf CLK_TCK)
rows=()
breakdowns=()
failures=()

# scenario NAME RATE LABEL EMBEDDING_ENV...: a fresh stack, the chunks, then RATE queries/s for warm-up +
# duration; appends the figures to rows and the stage table to breakdowns.
scenario() {
  local name=$1 rate=$2 label=$3
  shift 3
  local dir="$run_root/$name"
  mkdir -p "$dir"
  stack_services "$dir"
  stack_fake_model "$dir" --no-text-counts --answer-template "The handbook says so [1]."
  [ "$name" = minilm ] || set -- "$@" RAG_EMBEDDING_BASE_URL="$fake_url"
  stack_tokens "$dir" "$tenants" "$users_per_tenant"
  stack_workers "$dir" \
    RAG_GATEWAY_RATE_LIMITS='free=1000000/1000000;standard=1000000/1000000;enterprise=1000000/1000000' \
    -- "$@" \
    -- RAG_CHAT_PROVIDER=openai RAG_CHAT_BASE_URL="$fake_url" RAG_CHAT_MODEL=fake-chat
  stack_ingest "$dir"
  local pids=("$gateway_pid" "$rag_chain_pid" "$relay_pid" "$broker_pid" "$fake_pid") cpu_before=() i
  for i in "${pids[@]}"; do cpu_before+=("$(cpu_ticks "$i")"); done
  cpu_before+=("$(cpu_ticks $(stack_postgres_pids "$dir"))")
  local load_before
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  log "$name: $rate queries/s for ${warmup} s warm-up + ${duration} s to http://127.0.0.1:$gateway_port"
  python3 bench/queries/sse_latency.py --gateway "http://127.0.0.1:$gateway_port" --tokens "$dir/tokens" \
    --chunks bench/queries/chunks.json --rate "$rate" --duration "$duration" --warmup "$warmup" --out "$dir/latency.csv" \
    > "$dir/client.out" 2> "$dir/client.err" || { cat "$dir/client.err" >&2; die "$name: the client failed"; }
  local client sent ok errors late client_cpu
  client=$(cat "$dir/client.out")
  sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<< "$client")
  ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<< "$client")
  errors=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<< "$client")
  late=$(sed -n 's/.* late_p99_ms=\([0-9.]*\).*/\1/p' <<< "$client")
  client_cpu=$(sed -n 's/.* cpu_s=\([0-9.]*\).*/\1/p' <<< "$client")
  local cores=() labels=(gateway rag-chain relay broker fake-model postgres) wall=$((duration + warmup)) used
  for i in 0 1 2 3 4 5; do
    if [ "$i" -eq 5 ]; then used=$(cpu_ticks $(stack_postgres_pids "$dir")); else used=$(cpu_ticks "${pids[i]}"); fi
    cores+=("${labels[i]} $(awk -v t="$((used - cpu_before[i]))" -v hz="$clk_tck" -v d="$wall" 'BEGIN { printf "%.2f", t / hz / d }')")
  done
  cores+=("client $(awk -v c="$client_cpu" -v d="$wall" 'BEGIN { printf "%.2f", c / d }')")
  [ "$errors" -eq 0 ] || failures+=("$name: $errors queries without a result: $(sed -n 's/.*first_error=//p' <<< "$client")")
  local stats
  stats=$(awk -F, '{ print $4 }' "$dir/latency.csv" | sort -g | awk '
    { v[NR] = $1 }
    function q(p) { i = int(NR * p); if (i < 1) i = 1; if (i > NR) i = NR; return v[i] }
    END { if (NR == 0) { print "- - - - -"; exit } printf "%.1f %.1f %.1f %.1f %.1f", q(0.5), q(0.9), q(0.99), v[NR], v[1] }')
  local p50 p90 p99 max min verdict=""
  read -r p50 p90 p99 max min <<< "$stats"
  local post_p50
  post_p50=$(awk -F, '{ print $3 }' "$dir/latency.csv" | sort -g | awk '{ v[NR] = $1 } END { i = int(NR * 0.5); if (i < 1) i = 1; printf "%.1f", v[i] }')
  if [ "$name" = fake ]; then
    if awk -v a="$p99" -v g="$goal_p99_ms" 'BEGIN { exit !(a <= g) }'; then verdict="<= $goal_p99_ms: met"; else verdict="<= $goal_p99_ms: MISSED"; fi
  fi
  rows+=("$(printf '%-50s %5s %9s %7s %7s %7s %7s %8s %8s  %s' "$label" "$rate" "$ok/$sent" "$p50" "$p90" "$p99" "$max" "$post_p50" "$late" "$verdict")")
  rows+=("$(printf '%-50s cores busy: %s; load average %s before' "" "$(IFS=,; echo "${cores[*]}" | sed 's/,/, /g')" "$load_before")")
  curl -s "http://127.0.0.1:$rag_chain_port/metrics" > "$dir/rag-chain-metrics.txt" || true
  curl -s "http://127.0.0.1:$relay_port/metrics" > "$dir/outbox-relay-metrics.txt" || true
  local breakdown
  breakdown=$(python3 bench/queries/latency_breakdown.py --csv "$dir/latency.csv" --psql "$psql" \
    --database-url "$RAG_DATABASE_URL" --bootstrap "$RAG_KAFKA_BOOTSTRAP_SERVERS" \
    --rag-chain-metrics "$dir/rag-chain-metrics.txt" --relay-metrics "$dir/outbox-relay-metrics.txt" 2> "$dir/breakdown.err") ||
    failures+=("$name: the latency breakdown failed: $(tail -n 1 "$dir/breakdown.err")")
  breakdowns+=("$label:" "$breakdown" "")
  log "$name: p50 $p50 ms, p99 $p99 ms ($ok of $sent)"
  local stopped=("$gateway_pid" "$rag_chain_pid" "$relay_pid" "$embedder_pid" "$fake_pid") kept=() pid
  stop_pids "${stopped[@]}"
  for pid in "${all_pids[@]}"; do [[ " ${stopped[*]} " == *" $pid "* ]] || kept+=("$pid"); done
  all_pids=(${kept[@]+"${kept[@]}"})  # not signalled again on exit
  scripts/services.sh stop "$dir" > /dev/null 2>&1 || true
}

scenario fake "$fake_rate" "fake embeddings + fake chat, instant" \
  RAG_EMBEDDING_PROVIDER=openai RAG_EMBEDDING_MODEL=fake-embedding
scenario minilm "$minilm_rate" "MiniLM embeddings ($minilm_threads threads) + fake chat" \
  RAG_EMBEDDING_PROVIDER=minilm RAG_EMBEDDING_MODEL=all-MiniLM-L6-v2 RAG_MINILM_MODEL_DIR="$model_dir" \
  RAG_MINILM_THREADS="$minilm_threads"

echo
echo "End-to-end query latency: POST /queries sent → SSE result event read (GET /results/{id} opened after the 202),"
echo "open-loop arrivals for ${duration} s after ${warmup} s of warm-up; the whole stack on $(nproc) cores"
echo "($(lscpu | sed -n 's/^Model name: *//p' | head -n 1)) with the client: local broker (ragctl broker, librdkafka mock cluster, 3 brokers,"
echo "6 partitions; consumers' fetch.wait.max.ms ${stack_fetch_wait:-500ms}), local Postgres, release builds; chat from"
echo "fake-model-server (instant, RAG_CHAT_PROVIDER=openai)."
echo "$tenants tenants × $users_per_tenant users; ms. POST p50: until the 202. late p99: the client's own lag behind its schedule."
echo
printf '%-50s %5s %9s %7s %7s %7s %7s %8s %8s  %s\n' "scenario" "q/s" "count" "p50" "p90" "p99" "max" "POST p50" "late p99" "goal p99"
printf '%s\n' "${rows[@]}"
echo
printf '%s\n' "${breakdowns[@]}"
if [ ${#failures[@]} -gt 0 ]; then
  printf 'bench-query-latency: FAILED: %s\n' "${failures[@]}" >&2
  exit 1
fi
