#!/usr/bin/env bash
# Soak of the Shared Kafka consumer (`KafkaConsumer`, Shared/Messaging): BENCH_RECORDS (1,000,000) small
# records through `KafkaConsumer.run` with a no-op handler, against a private local broker (`ragctl broker`),
# release builds. Prints the consumer's RSS at the first record, after a warm-up and at the end — goal: less
# than 20 MiB growth from the warm-up to the end — and records/s over the consume phase.
#
# Steps: a fresh broker; a bench topic of BENCH_PARTITIONS (32) partitions created through its control port
# (the local broker, librdkafka's mock cluster, keeps only ~5 MiB per partition and drops older records: with
# 6 partitions a consumer starting after 1,000,000 produced records finds only ~387,000);
# `consumer-soak produce` sends the records with `KafkaProducer` (BENCH_CONCURRENCY sends in flight, 64-byte
# values, 1024 keys); then `consumer-soak consume` — a process of its own, so its RSS holds nothing of the
# producer's — joins a group, consumes everything, samples VmRSS, and shuts the consumer down gracefully.
# The soak uses the embedder's in-flight bounds (maxInFlight 2048, 1024 per partition).
# Fails (status 1) when the records are not all produced or consumed within BENCH_TIMEOUT seconds; a growth
# over the goal is printed, not failed on.
#
# Tunables (environment):
#   BENCH_RECORDS=1000000   records produced and consumed
#   BENCH_PARTITIONS=32     partitions of the bench topic (the mock broker keeps ~5 MiB per partition)
#   BENCH_CONCURRENCY=4096  producer sends in flight
#   BENCH_WARM_UP=100000    records consumed before the baseline RSS is taken (librdkafka's fetch queues filled:
#                           at ~30,000 records/s they still grow 1.5 s in, at 50,000 records)
#   BENCH_MAX_IN_FLIGHT=2048, BENCH_MAX_IN_FLIGHT_PER_PARTITION=1024   the soak's consumer bounds
#   BENCH_TIMEOUT=600       seconds each phase may take
#   BENCH_KEEP=1            keep the run directory .run/bench-consumer (broker log) after success
set -euo pipefail
cd "$(dirname "$0")/.."

records=${BENCH_RECORDS:-1000000}
partitions=${BENCH_PARTITIONS:-32}
concurrency=${BENCH_CONCURRENCY:-4096}
warm_up=${BENCH_WARM_UP:-100000}
max_in_flight=${BENCH_MAX_IN_FLIGHT:-2048}
max_in_flight_per_partition=${BENCH_MAX_IN_FLIGHT_PER_PARTITION:-1024}
timeout=${BENCH_TIMEOUT:-600}
topic=bench.consumer-soak
run_root=.run/bench-consumer

bench_name=bench-consumer bench_run_dir=$run_root bench_stop_grace=10
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

# SwiftPM builds only the last --product given, hence one command per product.
for product in ragctl consumer-soak; do
  swift build -c release --product "$product"
done
bin=$(swift build -c release --show-bin-path)

rm -rf "$run_root"
mkdir -p "$run_root/broker"

# --- a private broker (as scripts/services.sh starts one) and the bench topic ----------------------------
"$bin/ragctl" broker --state-dir "$run_root/broker" > "$run_root/broker.log" 2>&1 &
broker_pid=$!
all_pids+=("$broker_pid")
for _ in $(seq 1 100); do
  [ -s "$run_root/broker/control.url" ] && break
  kill -0 "$broker_pid" 2> /dev/null || { cat "$run_root/broker.log" >&2; die "the broker exited"; }
  sleep 0.1
done
[ -s "$run_root/broker/control.url" ] || die "the broker did not come up; see $run_root/broker.log"
bootstrap=$(cat "$run_root/broker/bootstrap")
control=$(cat "$run_root/broker/control.url")
curl -sf -X POST "$control/topics" -H 'Content-Type: application/json' \
  -d "{\"name\": \"$topic\", \"partitions\": $partitions, \"replication_factor\": 1}" > /dev/null \
  || die "could not create $topic through $control/topics"
log "broker $bootstrap; topic $topic with $partitions partitions"

# --- produce, then consume ------------------------------------------------------------------------------
log "producing $records records"
"$bin/consumer-soak" produce --bootstrap "$bootstrap" --topic "$topic" --records "$records" \
  --concurrency "$concurrency" --timeout "$timeout"
log "consuming them with KafkaConsumer.run { _ in } (a process of its own)"
"$bin/consumer-soak" consume --bootstrap "$bootstrap" --topic "$topic" --records "$records" \
  --group consumer-soak --warm-up "$warm_up" --timeout "$timeout" \
  --max-in-flight "$max_in_flight" --max-in-flight-per-partition "$max_in_flight_per_partition"
