#!/usr/bin/env bash
# POST /queries under load: the Swift gateway (release build) next to a minimal Python gateway doing the
# same work (bench/python-gateway/gateway.py: aiohttp + PyJWT + jsonschema + confluent-kafka — verify the
# RS256 JWT, validate against the same JSON Schema, produce to rag.queries with acks=all, 202 after the
# delivery report), on this machine, against one local broker (`ragctl broker`), with one RS256 token.
#
# The Swift gateway runs twice: as deployed by default (the verified-token cache on, RAG_JWT_CACHE_SIZE
# 10000: the one token is verified once, then answered from the cache) and with the cache off
# (RAG_JWT_CACHE_SIZE=0: every request's token verified in full — signature, header, claims).
#
# Prints requests/s, p50/p99 latency, non-202 responses, socket errors and the gateway's CPU use for each
# gateway and each load level (wrk connection count), side by side, with the ratios of CPU per request and
# requests/s against the 1-process Python gateway at the same load, all from the same run; then whether
# issue 13's goals hold: ≤ 150 µs of gateway CPU per accepted request and p99 ≤ 10 ms at 32 connections,
# judged on the default configuration (cache on; the cache-off figures are printed next to it). Fails
# (status 1) when more than 1% of a run's responses are not 202, or when the broker holds fewer new
# records than the 202s answered; a goal not met is reported, not a failure.
#
# Tunables (environment):
#   BENCH_DURATION=15s             measured wrk run per gateway and load level
#   BENCH_WARMUP=3s                discarded wrk run before each gateway's first measured run
#   BENCH_THREADS=2                wrk threads
#   BENCH_CONNECTIONS="32 128"     load levels (open connections); 32 is latency at moderate load,
#                                  128 saturates this 2-core machine
#   BENCH_PYTHON_WORKERS="1 N"     Python gateway process counts to run (SO_REUSEPORT); N = nproc
#   BENCH_KEEP=1                   keep the run directory (logs) instead of deleting it
#   BENCH_SKIP_BUILD=1             use the release binaries already in .build/release (no swift build)
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${BENCH_DURATION:-15s}
warmup=${BENCH_WARMUP:-3s}
threads=${BENCH_THREADS:-2}
read -r -a connections <<< "${BENCH_CONNECTIONS:-32 128}"
read -r -a python_workers <<< "${BENCH_PYTHON_WORKERS:-1 $(nproc)}"
python_workers=($(printf '%s\n' "${python_workers[@]}" | awk '!seen[$0]++'))
lua=bench/python-gateway/post-query.lua
schema=Shared/Schemas/JSON/query-request.v1.json
max_bad_percent=1

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-gateway.XXXXXX")
bench_name=bench-gateway bench_run_dir=$run_dir bench_stop_grace=10
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

# --- prerequisites ----------------------------------------------------------------------------------
command -v wrk > /dev/null || die "wrk is not installed; run 'make deps'"
python3 -c 'import aiohttp, confluent_kafka, jwt, cryptography, jsonschema' 2> /dev/null \
  || die "the Python gateway's packages are missing; run 'make bench' (it installs them)"
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  # SwiftPM builds only the last --product given, hence two commands.
  swift build -c release --product gateway
  swift build -c release --product ragctl
fi
bin=$(swift build -c release --show-bin-path)
for product in gateway ragctl; do [ -x "$bin/$product" ] || die "$bin/$product is missing; run without BENCH_SKIP_BUILD"; done

# --- broker, key pair, token ---------------------------------------------------------------------------
mkdir -p "$run_dir/broker"
"$bin/ragctl" broker --state-dir "$run_dir/broker" > "$run_dir/broker.log" 2>&1 &
broker_pid=$!
all_pids+=("$broker_pid")
for _ in $(seq 1 100); do
  [ -s "$run_dir/broker/control.url" ] && break
  kill -0 "$broker_pid" 2> /dev/null || { cat "$run_dir/broker.log" >&2; die "broker failed to start"; }
  sleep 0.1
done
[ -s "$run_dir/broker/control.url" ] || die "broker did not come up; see $run_dir/broker.log"
bootstrap=$(cat "$run_dir/broker/bootstrap")

keys="$run_dir/keys"
TOKEN=$("$bin/ragctl" token --sub bench --tier enterprise --tenant acme --ttl 2h --keys-dir "$keys")
export TOKEN
public_key="$keys/dev-rs256-public.pem"

records_in_topic() {  # sum of rag.queries high watermarks
  python3 - "$bootstrap" << 'EOF'
import sys
from confluent_kafka import Consumer, TopicPartition
consumer = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "bench-gateway-watermarks"})
partitions = consumer.list_topics("rag.queries", timeout=10).topics["rag.queries"].partitions
print(sum(consumer.get_watermark_offsets(TopicPartition("rag.queries", p), timeout=10)[1] for p in partitions))
consumer.close()
EOF
}

# --- measuring -------------------------------------------------------------------------------------------
rows=()  # "name|conns|req/s|p50|p99|non202|socket errors|gw cores|gw µs/req|broker cores", in run order
failures=()
clk_tck=$(getconf CLK_TCK)

# measure NAME URL PIDS...: one wrk run per load level against a gateway that is already up.
measure() {
  local name=$1 url=$2
  shift 2
  local gateway_pids=("$@") c out line
  wrk -t"$threads" -c"${connections[0]}" -d"$warmup" -s "$lua" "$url" > "$run_dir/warmup-$name.txt" 2>&1 ||
    { cat "$run_dir/warmup-$name.txt" >&2; die "$name: warm-up run failed"; }
  for c in "${connections[@]}"; do
    local records_before cpu_before broker_before
    records_before=$(records_in_topic)
    cpu_before=$(cpu_ticks "${gateway_pids[@]}")
    broker_before=$(cpu_ticks "$broker_pid")
    log "$name: wrk -t$threads -c$c -d$duration --latency -s $lua $url/queries"
    wrk -t"$threads" -c"$c" -d"$duration" --latency -s "$lua" "$url" > "$run_dir/wrk-$name-c$c.txt" 2>&1 ||
      { cat "$run_dir/wrk-$name-c$c.txt" >&2; die "$name: wrk failed"; }
    local cpu_used=$(($(cpu_ticks "${gateway_pids[@]}") - cpu_before))
    local broker_used=$(($(cpu_ticks "$broker_pid") - broker_before))
    local records=$(($(records_in_topic) - records_before))
    line=$(grep '^BENCH ' "$run_dir/wrk-$name-c$c.txt") || { cat "$run_dir/wrk-$name-c$c.txt" >&2; die "$name: no BENCH line from wrk"; }
    # BENCH key=value … first_bad_body=<rest of line>
    local requests duration_s rps p50 p99 non202 socket_errors first_bad first_bad_body
    requests=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<< "$line")
    duration_s=$(sed -n 's/.* duration_s=\([0-9.]*\).*/\1/p' <<< "$line")
    rps=$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<< "$line")
    p50=$(sed -n 's/.* p50_ms=\([0-9.]*\).*/\1/p' <<< "$line")
    p99=$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<< "$line")
    non202=$(sed -n 's/.* non202=\([0-9]*\).*/\1/p' <<< "$line")
    socket_errors=$(sed -n 's/.* socket_errors=\([0-9]*\).*/\1/p' <<< "$line")
    first_bad=$(sed -n 's/.* first_bad=\([^ ]*\) .*/\1/p' <<< "$line")
    first_bad_body=$(sed -n 's/.* first_bad_body=\(.*\)$/\1/p' <<< "$line")
    local cores per_request
    cores=$(awk -v t="$cpu_used" -v hz="$clk_tck" -v d="$duration_s" 'BEGIN { printf "%.2f", t / hz / d }')
    broker_cores=$(awk -v t="$broker_used" -v hz="$clk_tck" -v d="$duration_s" 'BEGIN { printf "%.2f", t / hz / d }')
    # per accepted (202) request: CPU spent on refused requests is charged to the accepted ones
    per_request=$(awk -v t="$cpu_used" -v hz="$clk_tck" -v n="$((requests - non202))" 'BEGIN { printf "%.0f", (n > 0 ? t / hz / n * 1e6 : 0) }')
    rows+=("$name|$c|$rps|$p50|$p99|$non202|$socket_errors|$cores|$per_request|$broker_cores")
    local accepted=$((requests - non202))
    if [ "$requests" -eq 0 ]; then
      failures+=("$name c=$c: no request completed")
    elif [ $(((non202 + socket_errors) * 100)) -gt $((requests * max_bad_percent)) ]; then
      failures+=("$name c=$c: $non202 non-202 responses and $socket_errors socket errors in $requests requests (> $max_bad_percent%); first non-202: $first_bad $first_bad_body")
    fi
    if [ "$records" -lt "$accepted" ]; then
      failures+=("$name c=$c: $accepted requests answered 202 but rag.queries grew by only $records records")
    fi
  done
}

# run_swift NAME ENV...: starts the Swift gateway with these extra variables, measures it, stops it.
run_swift() {
  local name=$1
  shift
  local gateway_log="$run_dir/$name.log" swift_pid port=""
  env "$@" RAG_KAFKA_BOOTSTRAP_SERVERS="$bootstrap" RAG_HTTP_HOST=127.0.0.1 RAG_HTTP_PORT=0 \
    RAG_JWT_PUBLIC_KEY_FILE="$public_key" RAG_JWT_KEY_ID=dev-rs256 RAG_JWT_ISSUER=kafka-rag-dev RAG_JWT_AUDIENCE=kafka-rag \
    RAG_GATEWAY_RATE_LIMITS='free=1000000/1000000;standard=1000000/1000000;enterprise=1000000/1000000' \
    RAG_LOG_LEVEL=info "$bin/gateway" > "$gateway_log" 2>&1 &
  swift_pid=$!
  all_pids+=("$swift_pid")
  for _ in $(seq 1 300); do
    port=$(grep '"message":"started"' "$gateway_log" | sed -n 's/.*"http\.port":\([0-9]*\).*/\1/p' | head -n 1) || true
    [ -n "$port" ] && break
    kill -0 "$swift_pid" 2> /dev/null || { cat "$gateway_log" >&2; die "the Swift gateway ($name) exited"; }
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$gateway_log" >&2; die "the Swift gateway ($name) logged no started line with http.port"; }
  wait_http_200 "http://127.0.0.1:$port/readyz" "$swift_pid" "$gateway_log"
  measure "$name" "http://127.0.0.1:$port" "$swift_pid"
  stop_pids "$swift_pid"
}

# The default configuration (the verified-token cache on), then every token verified in full.
run_swift "swift" RAG_JWT_CACHE_SIZE=10000
run_swift "swift, no token cache" RAG_JWT_CACHE_SIZE=0

for workers in "${python_workers[@]}"; do
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  pids=()
  for i in $(seq 1 "$workers"); do
    python3 bench/python-gateway/gateway.py --port "$port" --reuse-port --bootstrap "$bootstrap" \
      --public-key "$public_key" --kid dev-rs256 --issuer kafka-rag-dev --audience kafka-rag --schema "$schema" \
      > "$run_dir/python-gateway-$workers-$i.log" 2>&1 &
    pids+=($!)
    all_pids+=($!)
  done
  for pid in "${pids[@]}"; do  # wait until every process is listening (without ss: until /healthz answers)
    command -v ss > /dev/null || break
    for _ in $(seq 1 300); do
      [ -n "$(ss -Htlnp "sport = :$port" 2> /dev/null | grep "pid=$pid,")" ] && break
      kill -0 "$pid" 2> /dev/null || { cat "$run_dir"/python-gateway-"$workers"-*.log >&2; die "a Python gateway process exited"; }
      sleep 0.1
    done
  done
  wait_http_200 "http://127.0.0.1:$port/healthz" "${pids[0]}" "$run_dir/python-gateway-$workers-1.log"
  name="python"
  [ "$workers" -eq 1 ] || name="python x$workers procs"
  measure "$name" "http://127.0.0.1:$port" "${pids[@]}"
  stop_pids "${pids[@]}"
done

# --- report --------------------------------------------------------------------------------------------
field() { cut -d'|' -f"$2" <<< "$1"; }
# reference ROW: the Python row (1 process, else the first Python row) at the same connection count
reference() {
  local c row fallback=""
  c=$(field "$1" 2)
  for row in "${rows[@]}"; do
    [ "$(field "$row" 2)" = "$c" ] || continue
    [ "$(field "$row" 1)" = "python" ] && { echo "$row"; return; }
    [[ -z "$fallback" && "$(field "$row" 1)" == python* ]] && fallback=$row
  done
  echo "$fallback"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else printf "-" }'; }

echo
echo "POST /queries, one RS256 token (tier enterprise), 202 after acks=all — $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -n 1)),"
echo "local broker (ragctl broker, librdkafka mock cluster, 3 brokers, 6 partitions); wrk -t$threads -d$duration --latency -s $lua"
echo "gateway CPU: cores busy during the run (utime+stime / wall) and CPU time per accepted (202) request; wrk and the broker share the same cores."
echo "swift: as deployed by default (verified-token cache on: the one token is verified once); swift, no token cache:"
echo "RAG_JWT_CACHE_SIZE=0 (every token verified in full). Ratios: against the 1-process Python gateway at the same load, same run."
echo
printf '%-22s %6s %10s %9s %9s %9s %9s %9s %11s %8s %13s %13s\n' "gateway" "conns" "req/s" "p50 ms" "p99 ms" "non-202" "sock err" \
  "gw cores" "gw µs/req" "broker" "µs/req ratio" "req/s ratio"
for row in "${rows[@]}"; do
  IFS='|' read -r name c rps p50 p99 non202 socket_errors cores per_request broker_cores <<< "$row"
  ref=$(reference "$row")
  cpu_ratio=- rps_ratio=-
  if [ -n "$ref" ]; then
    cpu_ratio=$(ratio "$per_request" "$(field "$ref" 9)")
    rps_ratio=$(ratio "$rps" "$(field "$ref" 3)")
  fi
  printf '%-22s %6s %10s %9s %9s %9s %9s %9s %11s %8s %13s %13s\n' "$name" "$c" "$rps" "$p50" "$p99" "$non202" "$socket_errors" \
    "$cores" "$per_request" "$broker_cores" "$cpu_ratio" "$rps_ratio"
done

# Issue 13's goals, judged on the default configuration ("swift") at 32 connections.
goal_us=150 goal_p99_ms=10 goal_connections=32
echo
for name in "swift" "swift, no token cache"; do
  row=""
  for candidate in "${rows[@]}"; do
    [ "$(field "$candidate" 1)" = "$name" ] && [ "$(field "$candidate" 2)" = "$goal_connections" ] && row=$candidate
  done
  label="$name"
  [ "$name" = "swift" ] && label="swift (default: token cache on) — the goals are judged on this row" || label="$name (for comparison)"
  if [ -z "$row" ]; then
    echo "goals, $label: not measured (BENCH_CONNECTIONS has no $goal_connections)"
    continue
  fi
  per_request=$(field "$row" 9) p99=$(field "$row" 5)
  cpu_verdict=$(awk -v v="$per_request" -v g="$goal_us" 'BEGIN { if (v <= g) printf "met (%d µs ≤ %d µs)", v, g; else printf "NOT met: %d µs, %d µs over %d µs", v, v - g, g }')
  p99_verdict=$(awk -v v="$p99" -v g="$goal_p99_ms" 'BEGIN { if (v <= g) printf "met (%.1f ms ≤ %d ms)", v, g; else printf "NOT met: %.1f ms, %.1f ms over %d ms", v, v - g, g }')
  echo "goals, $label:"
  echo "  gateway CPU per accepted request ≤ $goal_us µs: $cpu_verdict"
  echo "  p99 at $goal_connections connections ≤ $goal_p99_ms ms: $p99_verdict"
done
echo
if [ ${#failures[@]} -gt 0 ]; then
  printf 'bench-gateway: FAILED: %s\n' "${failures[@]}" >&2
  exit 1
fi
