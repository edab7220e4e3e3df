"""bench-query-latency.sh's client: end-to-end latency of queries, POST /queries → SSE `result` event.

Open loop: query i is sent at start + i / --rate (whether or not earlier ones are done), for --warmup plus
--duration seconds, round-robin over the tokens of --tokens and the questions of --chunks. Each query: POST
/queries (a keep-alive connection pool), then right after the 202 GET /results/{query_id} (Accept:
text/event-stream, a connection of its own) until the `result` event has arrived. Latency = from just before
the POST is sent until the result event's data line has been read. Queries sent during the warm-up are not
counted.

Writes one CSV line per counted query to --out: query_id, sent (epoch s), post_ms (until the 202), total_ms,
late_ms (how late the client sent it against the schedule), status (of the result). Prints one line:
sent=N ok=K errors=E late_p99_ms=L cpu_s=C (this process's
CPU time) first_error=...."""
import argparse
import asyncio
import json
import time

import aiohttp

parser = argparse.ArgumentParser()
parser.add_argument("--gateway", required=True)
parser.add_argument("--tokens", required=True)
parser.add_argument("--chunks", required=True)
parser.add_argument("--rate", type=float, required=True, help="queries per second")
parser.add_argument("--duration", type=float, required=True, help="measured seconds")
parser.add_argument("--warmup", type=float, default=3)
parser.add_argument("--timeout", type=float, default=30, help="seconds a query may take")
parser.add_argument("--out", required=True)
args = parser.parse_args()

tokens = open(args.tokens).read().split()
questions = json.load(open(args.chunks))["questions"]


async def one(session, i, scheduled, counted, rows, errors):
    token = tokens[i % len(tokens)]
    auth = {"Authorization": f"Bearer {token}"}
    body = {"question": f"{questions[i % len(questions)]} (query {i})", "top_k": 3}
    late = time.monotonic() - scheduled
    sent_epoch, sent = time.time(), time.monotonic()
    try:
        async with session.post(args.gateway + "/queries", json=body, headers=auth) as response:
            text = await response.text()
            if response.status != 202:
                errors.append(f"POST {response.status} {text[:200]}")
                return
            query_id = json.loads(text)["query_id"]
        accepted = time.monotonic()
        headers = dict(auth, Accept="text/event-stream")
        async with session.get(f"{args.gateway}/results/{query_id}", headers=headers) as response:
            if response.status != 200:
                errors.append(f"GET {response.status} {(await response.text())[:200]}")
                return
            event = None
            async for raw in response.content:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("result", "error"):
                    done = time.monotonic()
                    if event == "error":
                        errors.append(f"SSE error event: {line[:200]}")
                        return
                    status = json.loads(line[5:])["status"]
                    if counted:
                        rows.append(f"{query_id},{sent_epoch:.6f},{(accepted - sent) * 1000:.2f},{(done - sent) * 1000:.2f},"
                                    f"{late * 1000:.2f},{status}")
                    return
                elif line == "":
                    event = None
            errors.append(f"SSE stream of {query_id} ended without a result")
    except Exception as error:  # a timeout, a reset connection: counted, reported
        errors.append(f"{type(error).__name__}: {error}")


async def main():
    rows, errors, tasks = [], [], []
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        total = int((args.warmup + args.duration) * args.rate)
        warmup = int(args.warmup * args.rate)
        start = time.monotonic() + 0.1
        for i in range(total):
            scheduled = start + i / args.rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session, i, scheduled, i >= warmup, rows, errors)))
        await asyncio.gather(*tasks)
    with open(args.out, "w") as f:
        f.write("\n".join(rows) + ("\n" if rows else ""))
    lates = sorted(float(r.split(",")[4]) for r in rows)
    late_p99 = lates[min(len(lates) - 1, int(len(lates) * 0.99))] if lates else 0
    counted = total - warmup
    print(f"sent={counted} ok={len(rows)} errors={len(errors)} late_p99_ms={late_p99:.1f} cpu_s={time.process_time():.2f} "
          f"first_error={errors[0] if errors else ''}")


asyncio.run(main())
