#!/usr/bin/env bash
# Queries under a slow model (issue 10): BENCH_QUERIES queries (2,000) through the whole local stack, release
# builds — gateway → rag.queries → rag-chain (RAG_CHAIN_MAX_IN_FLIGHT=512) → answers + outbox → outbox-relay →
# rag.results — with the chat model (RAG_CHAT_PROVIDER=openai) answering after 8 s: fake-model-server with
# latency_ms 8000 on chat_completions only; the question embeddings come from the same server, instantly
# (RAG_EMBEDDING_PROVIDER=openai, so the model under test is the chat call alone). Four tenants each ingest the
# chunks of bench/queries/chunks.json first, and every question shares its words with one of them, so every
# query retrieves passages and calls the model (a refused query would not); the fake server's request
# counters prove that BENCH_QUERIES chat calls were made. The consumers (gateway, embedder, rag-chain) get
# RAG_KAFKA_FETCH_WAIT=5ms, as scripts/services.sh sets it for the local broker (see scripts/bench-stack.sh).
#
# Prints, against their goals:
#   - wall time from the first POST /queries until the last `answers` row exists (rows' created_at), next to
#     the limit 8 s × ⌈N / in-flight⌉ (goal ≤ 1.10×); also until the relay published the last result;
#   - rebalances during the run: kafka_consumer_rebalance_events_total of the rag-chain's /metrics (assign
#     and revoke callbacks; the initial assignment happens before the run) — goal 0;
#   - peak RSS of the rag-chain (VmHWM) — goal ≤ 256 MiB;
#   - beside it, the naive synchronous consume → call → produce → commit loop of the design documents
#     (bench/queries/naive_loop.py, Python + confluent-kafka, its own group on a copy topic, the same fake
#     server at 8 s) on BENCH_NAIVE_QUERIES records, extrapolated to BENCH_QUERIES.
# Fails (status 1) when not every query is answered within BENCH_TIMEOUT, or the chat calls do not add up;
# a missed goal is printed, not failed.
#
# Tunables (environment):
#   BENCH_QUERIES=2000          queries posted
#   BENCH_IN_FLIGHT=512         RAG_CHAIN_MAX_IN_FLIGHT (and RAG_CHAT_CONCURRENCY, so the chat client does not throttle)
#   BENCH_MODEL_LATENCY_MS=8000 chat latency of the fake server
#   BENCH_NAIVE_QUERIES=5       records of the naive loop
#   BENCH_CONNECTIONS=64        client connections posting the queries
#   BENCH_TIMEOUT=300           seconds the queries may take before the bench fails
#   BENCH_KEEP=1                keep the run directory .run/bench-query-load (logs) after success
#   BENCH_SKIP_BUILD=1          use the release binaries already in .build/release (no swift build)
set -euo pipefail
cd "$(dirname "$0")/.."

queries=${BENCH_QUERIES:-2000}
in_flight=${BENCH_IN_FLIGHT:-512}
latency_ms=${BENCH_MODEL_LATENCY_MS:-8000}
naive_queries=${BENCH_NAIVE_QUERIES:-5}
connections=${BENCH_CONNECTIONS:-64}
timeout=${BENCH_TIMEOUT:-300}
tenants=4
users_per_tenant=8
goal_ratio=1.10
goal_rss_mib=256
run_root=.run/bench-query-load

bench_name=bench-query-load bench_run_dir=$run_root bench_stop_grace=30
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh
# shellcheck source=scripts/bench-stack.sh
source scripts/bench-stack.sh

python3 -c 'import aiohttp, confluent_kafka' 2> /dev/null || die "aiohttp and confluent-kafka are missing; run 'make bench' (it installs them)"
stack_build
rm -rf "$run_root"
mkdir -p "$run_root"
dir=$run_root

# --- the stack -----------------------------------------------------------------------------------------------
stack_services "$dir"
# Every answer cites passage [1], as rag-chain's output check requires.
stack_fake_model "$dir" --latency-ms "$latency_ms" --fault-endpoint chat_completions --no-text-counts \
  --answer-template "The handbook says so [1]."
stack_tokens "$dir" "$tenants" "$users_per_tenant"
stack_workers "$dir" \
  RAG_GATEWAY_RATE_LIMITS='free=1000000/1000000;standard=1000000/1000000;enterprise=1000000/1000000' \
  -- RAG_EMBEDDING_PROVIDER=openai RAG_EMBEDDING_MODEL=fake-embedding RAG_EMBEDDING_BASE_URL="$fake_url" \
  -- RAG_CHAIN_MAX_IN_FLIGHT="$in_flight" RAG_CHAT_PROVIDER=openai RAG_CHAT_BASE_URL="$fake_url" RAG_CHAT_MODEL=fake-chat \
  RAG_CHAT_CONCURRENCY="$in_flight" RAG_CHAT_REQUESTS_PER_MINUTE=0 RAG_CHAT_TOKENS_PER_MINUTE=0 RAG_CHAT_TIMEOUT=60s
stack_ingest "$dir"
curl -s -X POST "$fake_url/stats/reset" > /dev/null
rebalance_metric='kafka_consumer_rebalance_events_total{group="rag-chain"}'
rebalances_before=$(stack_metric "$rag_chain_port" "$rebalance_metric")
assign_lines_before=$(grep -c '"message":"partitions \(assigned\|revoked\)"' "$dir/rag-chain.log" || true)
clk_tck=$(getconf CLK_TCK)
cpu_before=$(cpu_ticks "$rag_chain_pid")

# --- the queries ---------------------------------------------------------------------------------------------
log "posting $queries queries (chat at $latency_ms ms, in-flight $in_flight) to http://127.0.0.1:$gateway_port/queries"
python3 bench/queries/post_queries.py --gateway "http://127.0.0.1:$gateway_port" --tokens "$dir/tokens" \
  --chunks bench/queries/chunks.json --count "$queries" --connections "$connections" --ids "$dir/query-ids" \
  > "$dir/client.out" 2> "$dir/client.err" || { cat "$dir/client.err" >&2; die "the client failed"; }
client=$(cat "$dir/client.out")
first_post=$(sed -n 's/.*first_post_epoch=\([0-9.]*\).*/\1/p' <<< "$client")
posted_s=$(sed -n 's/.*posted_s=\([0-9.]*\).*/\1/p' <<< "$client")
accepted=$(sed -n 's/.*accepted=\([0-9]*\).*/\1/p' <<< "$client")
[ "$accepted" -eq "$queries" ] || die "the gateway accepted $accepted of $queries queries: $client"
log "posted in $posted_s s; waiting for $queries answers rows"
deadline=$((SECONDS + timeout))
while [ "$(stack_sql "SELECT count(*) FROM answers")" -lt "$queries" ]; do
  [ "$SECONDS" -lt "$deadline" ] || die "$(stack_sql "SELECT count(*) FROM answers") of $queries answers after $timeout s"
  kill -0 "$rag_chain_pid" 2> /dev/null || die "rag-chain exited"
  sleep 0.2
done
while [ "$(stack_sql "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL AND type = 'answer.ready'")" -lt "$queries" ]; do
  [ "$SECONDS" -lt "$deadline" ] || die "the relay did not publish every result within $timeout s"
  sleep 0.2
done
cpu_used=$(($(cpu_ticks "$rag_chain_pid") - cpu_before))
wall_s=$(stack_sql "SELECT round((extract(epoch FROM max(created_at)) - $first_post)::numeric, 2) FROM answers")
published_s=$(stack_sql "SELECT round((extract(epoch FROM max(published_at)) - $first_post)::numeric, 2) FROM outbox WHERE type = 'answer.ready'")
# The queries in groups of in-flight, by the time the rag-chain started each (answers: created_at − latency_ms):
# when each group's first and last query started and its last answer was written, seconds after the first POST.
waves_table=$(stack_sql "
  SELECT string_agg(format('  %s-%s: started %s-%s s, last answer %s s', w * $in_flight + 1, w * $in_flight + n,
                           round(first_start, 2), round(last_start, 2), round(last_answer, 2)), E'\n' ORDER BY w)
  FROM (SELECT w, count(*) AS n, min(s) AS first_start, max(s) AS last_start, max(a) AS last_answer
        FROM (SELECT (row_number() OVER (ORDER BY s) - 1) / $in_flight AS w, s, a
              FROM (SELECT extract(epoch FROM created_at) - latency_ms / 1000.0 - $first_post AS s,
                           extract(epoch FROM created_at) - $first_post AS a FROM answers) t) u
        GROUP BY w) v")
# Queries in flight in the rag-chain (started, answers row not yet written) at each whole second after the first POST.
in_flight_series=$(stack_sql "
  WITH q AS (SELECT extract(epoch FROM created_at) - latency_ms / 1000.0 - $first_post AS s,
                    extract(epoch FROM created_at) - $first_post AS a FROM answers)
  SELECT string_agg((SELECT count(*) FROM q WHERE s <= t AND a > t)::text, ' ' ORDER BY t)
  FROM generate_series(1, ceil((SELECT max(a) FROM q))::int - 1) AS t")
statuses=$(stack_sql "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM (SELECT status, count(*) AS n FROM answers GROUP BY status) s")
answered=$(stack_sql "SELECT count(*) FROM answers WHERE status = 'answered'")
rebalances_after=$(stack_metric "$rag_chain_port" "$rebalance_metric")
assign_lines_after=$(grep -c '"message":"partitions \(assigned\|revoked\)"' "$dir/rag-chain.log" || true)
rebalances=$(awk -v a="$rebalances_after" -v b="$rebalances_before" 'BEGIN { printf "%d", a - b }')
rss_mib=$(vm_hwm_mib "$rag_chain_pid")
curl -s "http://127.0.0.1:$rag_chain_port/metrics" > "$dir/rag-chain-metrics.txt" || true
curl -s "$fake_url/stats" > "$dir/fake-model-stats.json"
read -r chat_calls chat_ok peak_concurrent < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["requests"].get("chat_completions", 0), s["outcomes_by_endpoint"].get("chat_completions", {}).get("ok", 0),
      s["peak_concurrent_requests"])' "$dir/fake-model-stats.json")
[ "$answered" -eq "$queries" ] || die "$answered of $queries queries answered ($statuses); see $dir/rag-chain.log"
[ "$chat_calls" -eq "$queries" ] && [ "$chat_ok" -eq "$queries" ] ||
  die "the fake model server counted $chat_calls chat calls ($chat_ok ok), $queries expected"
log "$queries answered in $wall_s s ($statuses); $chat_calls chat calls, peak $peak_concurrent concurrent"

# --- the naive loop --------------------------------------------------------------------------------------------
for topic in bench.naive-queries bench.naive-results; do
  curl -sf -X POST "$control_url/topics" -H 'Content-Type: application/json' \
    -d "{\"name\": \"$topic\", \"partitions\": 1, \"replication_factor\": 1}" > /dev/null || die "could not create $topic"
done
log "naive loop: $naive_queries records, chat at $latency_ms ms"
python3 bench/queries/naive_loop.py --bootstrap "$RAG_KAFKA_BOOTSTRAP_SERVERS" --input bench.naive-queries \
  --output bench.naive-results --chat-url "$fake_url" --chunks bench/queries/chunks.json --count "$naive_queries" \
  > "$dir/naive.out" 2> "$dir/naive.err" || { cat "$dir/naive.err" >&2; die "the naive loop failed"; }
naive=$(cat "$dir/naive.out")
naive_wall=$(sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p' <<< "$naive")
naive_per=$(sed -n 's/.*per_record_s=\([0-9.]*\).*/\1/p' <<< "$naive")

# --- report ----------------------------------------------------------------------------------------------------
waves=$(((queries + in_flight - 1) / in_flight))
limit_s=$(awk -v l="$latency_ms" -v w="$waves" 'BEGIN { printf "%.1f", l / 1000 * w }')
ratio=$(awk -v a="$wall_s" -v b="$limit_s" 'BEGIN { printf "%.2f", a / b }')
naive_total=$(awk -v p="$naive_per" -v n="$queries" 'BEGIN { printf "%.0f", p * n }')
naive_ratio=$(awk -v a="$naive_total" -v b="$wall_s" 'BEGIN { printf "%.0f", a / b }')
cores=$(awk -v t="$cpu_used" -v hz="$clk_tck" -v d="$published_s" 'BEGIN { printf "%.2f", t / hz / d }')
verdict() { if awk -v a="$1" -v g="$2" 'BEGIN { exit !(a <= g) }'; then echo met; else echo MISSED; fi; }
row() { printf '%-60s %10s %10s  %s\n' "$@"; }
# mean_ms METRIC: mean of a rag-chain histogram (its _sum / _count, the success outcome where there are outcomes)
mean_ms() {
  awk -v m="$1" '
    index($1, m "_sum") == 1 && ($1 !~ /outcome=/ || $1 ~ /outcome="success"/) { s = $2 }
    index($1, m "_count") == 1 && ($1 !~ /outcome=/ || $1 ~ /outcome="success"/) { c = $2 }
    END { printf "%.0f", c ? s / c * 1000 : 0 }' "$dir/rag-chain-metrics.txt"
}
echo
echo "$queries queries through gateway → rag-chain → answers + outbox → outbox-relay, chat model at $latency_ms ms"
echo "(fake-model-server, latency on chat_completions only; question embeddings from the same server, instant);"
echo "$tenants tenants × $users_per_tenant users (RS256 tokens, tier enterprise), $connections client connections; $(nproc) cores"
echo "($(lscpu | sed -n 's/^Model name: *//p' | head -n 1)); local broker (ragctl broker: librdkafka mock cluster, 3 brokers, 6 partitions)"
echo "and Postgres, release builds; consumers' fetch.wait.max.ms ${stack_fetch_wait:-500ms}. Results: $statuses; chat calls counted"
echo "by the fake server: $chat_calls ($chat_ok ok, peak $peak_concurrent concurrent). POSTs took $posted_s s."
echo
# Table cells are ASCII: printf pads bytes, not characters.
row "figure" "measured" "goal" ""
row "wall time, first POST -> last answers row (s)" "$wall_s" "<= $(awk -v l="$limit_s" -v g="$goal_ratio" 'BEGIN { printf "%.1f", l * g }')" ""
row "  limit ${latency_ms} ms x ceil($queries / $in_flight) = $limit_s s; ratio" "${ratio}x" "<= ${goal_ratio}x" "$(verdict "$ratio" "$goal_ratio")"
row "  first POST -> last result published to rag.results (s)" "$published_s" "" ""
row "rebalance events during the run (rag-chain /metrics)" "$rebalances" "0" "$(verdict "$rebalances" 0)"
row "  partitions assigned/revoked log lines during the run" "$((assign_lines_after - assign_lines_before))" "0" ""
row "peak RSS of rag-chain, VmHWM (MiB)" "$rss_mib" "<= $goal_rss_mib" "$(verdict "$rss_mib" "$goal_rss_mib")"
row "rag-chain CPU during the run (cores busy)" "$cores" "" ""
echo
echo "the queries in order of their start in the rag-chain, groups of $in_flight:"
echo "$waves_table"
echo "queries in flight in the rag-chain at 1, 2, 3 … s (from the answers rows; bound $in_flight):"
echo "$in_flight_series" | fold -s -w 110 | sed 's/^/  /'
echo
echo "rag-chain, mean per query (its /metrics), against the model's $latency_ms ms:"
row "  handling, record received -> answer durable (offset committable)" "$(mean_ms kafka_consumer_processing_duration_seconds) ms" "" ""
row "  of which: record received -> answer ready to write" "$(mean_ms rag_chain_answer_duration_seconds) ms" "" ""
row "    question embedding call" "$(mean_ms rag_embedding_call_duration_seconds) ms" "" ""
row "    retrieval (pgvector, incl. waiting for a pooled connection)" "$(mean_ms rag_chain_retrieval_duration_seconds) ms" "" ""
row "    chat call" "$(mean_ms rag_chat_call_duration_seconds) ms" "" ""
echo
printf '%-60s %10s %14s %8s\n' "consumer" "s/record" "$queries queries" "vs rag-chain"
printf '%-60s %10s %14s %8s\n' "rag-chain, in-flight $in_flight (measured)" \
  "$(awk -v w="$wall_s" -v n="$queries" 'BEGIN { printf "%.4f", w / n }')" "$wall_s s" "1x"
printf '%-60s %10s %14s %8s\n' "naive sync loop, Python ($naive_queries records in $naive_wall s, extrapolated)" \
  "$naive_per" "$naive_total s" "${naive_ratio}x"
