#!/usr/bin/env bash
# One SCRAM-SHA-512 principal per worker and ACLs that limit each to its own topics and consumer group.
# Runs as the super user `admin` (admin.properties beside this script) in the apache/kafka image; idempotent.
# Passwords come from the environment (<WORKER>_KAFKA_PASSWORD, see deploy/compose/sasl.yml).
#
#   principal        reads (group)                         writes
#   gateway          rag.results, rag.answer-deltas (none)  rag.chunks, rag.queries
#   embedder         rag.chunks (embedder)                  rag.dlq
#   rag-chain        rag.queries (rag-chain)                rag.context, rag.answer-deltas, rag.dlq
#   outbox-relay     —                                      rag.results, rag.index-events
#   review-sampler   rag.results (review-sampler)           rag.human-review
set -euo pipefail
bin=${KAFKA_BIN:-/opt/kafka/bin}
bootstrap=${BOOTSTRAP:-kafka:9094}
config=${COMMAND_CONFIG:-$(cd "$(dirname "$0")" && pwd)/admin.properties}
prefix=${RAG_TOPIC_PREFIX_FOR_ACLS:-rag.}

user() {  # name password
  "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" --command-config "$config" --alter \
    --entity-type users --entity-name "$1" --add-config "SCRAM-SHA-512=[iterations=8192,password=$2]"
}
acl() {  # principal operation resource-flag name
  "$bin/kafka-acls.sh" --bootstrap-server "$bootstrap" --command-config "$config" --add --allow-principal "User:$1" \
    --operation "$2" "$3" "$4" > /dev/null
}
reads() { local who=$1; shift; for topic in "$@"; do acl "$who" Read --topic "$prefix$topic"; acl "$who" Describe --topic "$prefix$topic"; done; }
writes() { local who=$1; shift; for topic in "$@"; do acl "$who" Write --topic "$prefix$topic"; acl "$who" Describe --topic "$prefix$topic"; done; }
group() { acl "$1" Read --group "$2"; acl "$1" Describe --group "$2"; }

user gateway "${GATEWAY_KAFKA_PASSWORD:?}"
user embedder "${EMBEDDER_KAFKA_PASSWORD:?}"
user rag-chain "${RAGCHAIN_KAFKA_PASSWORD:?}"
user outbox-relay "${OUTBOX_RELAY_KAFKA_PASSWORD:?}"
user review-sampler "${REVIEW_SAMPLER_KAFKA_PASSWORD:?}"

writes gateway chunks queries
reads gateway results answer-deltas
reads embedder chunks
writes embedder dlq
group embedder embedder
reads rag-chain queries
writes rag-chain context answer-deltas dlq
group rag-chain rag-chain
writes outbox-relay results index-events
reads review-sampler results
writes review-sampler human-review
group review-sampler review-sampler
# The idempotent producer (acks=all, enable.idempotence) of every writer.
for who in gateway embedder rag-chain outbox-relay review-sampler; do
  "$bin/kafka-acls.sh" --bootstrap-server "$bootstrap" --command-config "$config" --add --allow-principal "User:$who" \
    --operation IdempotentWrite --cluster > /dev/null
done
echo "sasl-setup: principals and ACLs in place"
