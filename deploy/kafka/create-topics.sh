#!/usr/bin/env bash
# Creates the platform's topics (topics.txt beside this script) on a real Kafka cluster, idempotently:
# existing topics are left as they are, except that their configs are set again to the ones listed.
# Runs in the apache/kafka image (docker-compose.yml's topic-init job) or anywhere Kafka's CLI tools are.
#
#   BOOTSTRAP=kafka:9092 [COMMAND_CONFIG=client.properties] [RAG_TOPIC_PARTITIONS=6] create-topics.sh
#
# Replication: 3 (min.insync.replicas=2) when the cluster has three or more brokers, else 1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${KAFKA_BIN:-/opt/kafka/bin}
bootstrap=${BOOTSTRAP:-kafka:9092}
partitions=${RAG_TOPIC_PARTITIONS:-6}
client=()
if [ -n "${COMMAND_CONFIG:-}" ]; then client=(--command-config "$COMMAND_CONFIG"); fi

for attempt in $(seq 1 60); do
  if brokers=$("$bin/kafka-broker-api-versions.sh" --bootstrap-server "$bootstrap" "${client[@]}" 2>/dev/null | grep -c '(id: '); then
    break
  fi
  echo "create-topics: waiting for $bootstrap ($attempt)"; sleep 2
done
replication=1
extra=()
if [ "${brokers:-0}" -ge 3 ]; then replication=3; extra=(--config min.insync.replicas=2); fi
echo "create-topics: $brokers broker(s): $partitions partitions, replication $replication"

grep -v '^\s*#' "$here/topics.txt" | grep -v '^\s*$' | while read -r topic settings; do
  configs=()
  for setting in $settings; do configs+=(--config "$setting"); done
  "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" "${client[@]}" --create --if-not-exists --topic "$topic" \
    --partitions "$partitions" --replication-factor "$replication" "${configs[@]}" "${extra[@]}"
  # Configs of a topic that already existed follow the file too (partitions are never lowered).
  "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" "${client[@]}" --alter --entity-type topics --entity-name "$topic" \
    --add-config "$(echo "$settings" | tr ' ' ',')" > /dev/null
  echo "create-topics: $topic ($settings)"
done
