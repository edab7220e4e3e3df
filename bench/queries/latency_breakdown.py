"""Where bench-query-latency.sh's end-to-end time goes, per query, from timestamps on one clock (one machine):
the client's send and receive times (CSV of sse_latency.py), the Kafka CreateTime of the query's rag.queries
record (set by the gateway's producer) and of its rag.results record (set by the outbox-relay's producer), and
the `answers` row (created_at: the rag-chain's transaction start; latency_ms: the rag-chain's handling until
then) and its `outbox` row (published_at: the start of the outbox-relay's batch transaction that claimed it).
Prints p50/p99 of each stage; with --rag-chain-metrics (a scrape of the rag-chain's /metrics after the run), the
means of the rag-chain's own steps; with --relay-metrics, the outbox-relay's batches."""
import argparse
import subprocess

from confluent_kafka import Consumer, TopicPartition

parser = argparse.ArgumentParser()
parser.add_argument("--csv", required=True)
parser.add_argument("--psql", required=True)
parser.add_argument("--database-url", required=True)
parser.add_argument("--bootstrap", required=True)
parser.add_argument("--rag-chain-metrics", help="the rag-chain's /metrics, scraped after the run")
parser.add_argument("--relay-metrics", help="the outbox-relay's /metrics, scraped after the run")
args = parser.parse_args()

rows = {}
for line in open(args.csv):
    query_id, sent, post_ms, total_ms, _late, _status = line.strip().split(",")
    rows[query_id] = (float(sent), float(post_ms), float(total_ms))


def topic_times(topic):
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "bench-latency-breakdown", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    times, done = {}, {p for p, end in ends.items() if end == 0}
    while len(done) < len(partitions):
        message = consumer.poll(5)
        if message is None:
            break
        if message.error():
            continue
        key = message.key().decode() if message.key() else ""
        times.setdefault(key, message.timestamp()[1] / 1000)
        if message.offset() + 1 >= ends[message.partition()]:
            done.add(message.partition())
    consumer.close()
    return times


queries = topic_times("rag.queries")
results = topic_times("rag.results")


def sql(query):
    output = subprocess.run([args.psql, "-X", "-tA", "-F,", "-d", args.database_url, "-c", query],
                            check=True, capture_output=True, text=True).stdout
    return [line.split(",") for line in output.split()]


answers = {query_id: (float(created), float(latency) / 1000)
           for query_id, created, latency in sql("SELECT query_id, extract(epoch FROM created_at), latency_ms FROM answers")}
claimed = {query_id: float(at) for query_id, at in sql(
    "SELECT aggregateid, extract(epoch FROM published_at) FROM outbox WHERE type = 'answer.ready' AND published_at IS NOT NULL")}

stages = {name: [] for name in ("total", "gateway", "ack", "to_chain", "chain", "to_relay", "relay_wait", "relay_send", "to_client")}
for query_id, (sent, post_ms, total_ms) in rows.items():
    if query_id not in queries or query_id not in results or query_id not in answers or query_id not in claimed:
        continue
    produced, published = queries[query_id], results[query_id]
    created, chain = answers[query_id]
    stages["total"].append(total_ms / 1000)
    stages["gateway"].append(produced - sent)
    stages["ack"].append(sent + post_ms / 1000 - produced)
    stages["to_chain"].append(created - chain - produced)
    stages["chain"].append(chain)
    stages["to_relay"].append(published - created)
    stages["relay_wait"].append(claimed[query_id] - created)
    stages["relay_send"].append(published - claimed[query_id])
    stages["to_client"].append(sent + total_ms / 1000 - published)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else float("nan")


labels = {
    "total": "end to end: POST sent → SSE result read",
    "gateway": "POST sent → rag.queries record produced (gateway)",
    "ack": "  record produced → 202 received (acks=all)",
    "to_chain": "record produced → rag-chain starts the query",
    "chain": "rag-chain: embed, retrieve, rag.context, answer",
    "to_relay": "answers row → rag.results record (outbox-relay)",
    "relay_wait": "  answers row → a relay batch claims it",
    "relay_send": "  batch claims it → record produced",
    "to_client": "rag.results record → SSE result read (gateway)",
}
print(f"{'stage (ms; Kafka timestamps have 1 ms resolution)':<58} {'p50':>8} {'p99':>8}   ({len(stages['chain'])} queries)")
for name, label in labels.items():
    print(f"{label:<58} {percentile(stages[name], 0.5):8.1f} {percentile(stages[name], 0.99):8.1f}")


def metrics(path):
    """Prometheus text → {name{labels}: value}, the successful outcome where there are outcomes."""
    samples = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        if "outcome=" in name and 'outcome="success"' not in name:
            continue
        samples[name.split("{")[0]] = samples.get(name.split("{")[0], 0) + float(value)
    return samples


def mean_ms(samples, histogram):
    count = samples.get(histogram + "_count", 0)
    return samples.get(histogram + "_sum", 0) / count * 1000 if count else float("nan")


if args.rag_chain_metrics:
    chain = metrics(args.rag_chain_metrics)
    answer = mean_ms(chain, "rag_chain_answer_duration_seconds")
    steps = [("question embedding call", mean_ms(chain, "rag_embedding_call_duration_seconds")),
             ("retrieval (pgvector)", mean_ms(chain, "rag_chain_retrieval_duration_seconds")),
             ("chat call", mean_ms(chain, "rag_chat_call_duration_seconds"))]
    rest = answer - sum(value for _, value in steps)
    print(f"rag-chain, means over the whole run (its /metrics): record received → answer ready {answer:.1f} ms = "
          + ", ".join(f"{label} {value:.1f}" for label, value in steps)
          + f", the rest {rest:.1f} (decoding, the already-answered check, prompt, rag.context acknowledged);"
          + f" → answer durable (answers + outbox transaction) {mean_ms(chain, 'kafka_consumer_processing_duration_seconds'):.1f} ms")
if args.relay_metrics:
    relay = metrics(args.relay_metrics)
    batches = relay.get("rag_outbox_publish_batch_duration_seconds_count", 0)
    published = sum(value for name, value in relay.items() if name == "rag_outbox_published_total")
    if batches:
        print(f"outbox-relay, whole run: {batches:.0f} batches, {published / batches:.1f} rows per batch, "
              f"{mean_ms(relay, 'rag_outbox_publish_batch_duration_seconds'):.1f} ms per batch on average "
              "(claim, publish and wait for every record's acks=all, mark, commit; two batches at a time)")
