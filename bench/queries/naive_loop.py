"""The naive synchronous consume-call-produce loop of the design documents, for bench-query-load.sh: one
consumer (confluent-kafka, its own group, enable.auto.commit=false) that for each record, one at a time,
calls the chat model (POST /v1/chat/completions, blocking), produces the answer (acks=all, flushed) and
commits the offset synchronously.

Produces --count query records to --input first (the caller creates the topic), then runs the loop until it has
handled that many. The clock starts when the first record arrives (the group join is not counted) and stops
after the last commit. Prints one line: records=N wall_s=S per_record_s=R call_s=C (mean model call)."""
import argparse
import json
import time
import urllib.request
import uuid

from confluent_kafka import Consumer, Producer

parser = argparse.ArgumentParser()
parser.add_argument("--bootstrap", required=True)
parser.add_argument("--input", required=True)
parser.add_argument("--output", required=True)
parser.add_argument("--group", default="bench-naive-loop")
parser.add_argument("--chat-url", required=True, help="base URL of the OpenAI-compatible server")
parser.add_argument("--chunks", required=True)
parser.add_argument("--count", type=int, required=True)
args = parser.parse_args()

corpus = json.load(open(args.chunks))
producer = Producer({"bootstrap.servers": args.bootstrap, "acks": "all", "enable.idempotence": True})
for i in range(args.count):
    query_id = str(uuid.uuid4())
    event = {"query_id": query_id, "question": corpus["questions"][i % len(corpus["questions"])], "top_k": 3, "stream": False}
    producer.produce(args.input, key=query_id, value=json.dumps(event))
producer.flush(30)

consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group, "enable.auto.commit": False,
                     "auto.offset.reset": "earliest"})
consumer.subscribe([args.input])
handled, start, call_total = 0, None, 0.0
while handled < args.count:
    message = consumer.poll(1.0)
    if message is None:
        continue
    if message.error():
        raise SystemExit(f"consumer error: {message.error()}")
    start = start or time.monotonic()
    query = json.loads(message.value())
    prompt = "Answer from the passages, citing them as [n].\n\n" + "\n".join(
        f"[{n}] {text}" for n, text in enumerate(corpus["chunks"][:3], 1)) + f"\n\nQuestion: {query['question']}"
    request = urllib.request.Request(
        args.chat_url + "/v1/chat/completions", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"model": "fake-chat", "messages": [{"role": "user", "content": prompt}], "max_tokens": 512}).encode())
    called = time.monotonic()
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.load(response)["choices"][0]["message"]["content"]
    call_total += time.monotonic() - called
    result = {"query_id": query["query_id"], "status": "answered", "answer": answer}
    producer.produce(args.output, key=query["query_id"], value=json.dumps(result))
    producer.flush(30)
    consumer.commit(message=message, asynchronous=False)
    handled += 1
wall = time.monotonic() - start
consumer.close()
print(f"records={handled} wall_s={wall:.2f} per_record_s={wall / handled:.3f} call_s={call_total / handled:.3f}")
