"""bench-query-load.sh's client: posts --count queries to the gateway's POST /queries as fast as it takes them,
over --connections keep-alive connections (aiohttp), round-robin over the tokens of --tokens (one a line) and the
questions of --chunks. Prints one line: first_post_epoch=T (wall clock just before the first POST is sent)
posted_s=S (until the last 202) accepted=N non202=K first_bad=STATUS BODY. Query ids go to --ids."""
import argparse
import asyncio
import json
import time

import aiohttp

parser = argparse.ArgumentParser()
parser.add_argument("--gateway", required=True)
parser.add_argument("--tokens", required=True)
parser.add_argument("--chunks", required=True)
parser.add_argument("--count", type=int, required=True)
parser.add_argument("--connections", type=int, default=64)
parser.add_argument("--ids", required=True)
args = parser.parse_args()

tokens = open(args.tokens).read().split()
questions = json.load(open(args.chunks))["questions"]


async def main():
    next_index, ids, bad = [0], [], []
    first = [None]

    async def worker(session):
        while next_index[0] < args.count:
            i = next_index[0]
            next_index[0] += 1
            body = {"question": f"{questions[i % len(questions)]} (query {i})", "top_k": 3}
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
            if first[0] is None:
                first[0] = time.time()
            async with session.post(args.gateway + "/queries", json=body, headers=headers) as response:
                text = await response.text()
                if response.status == 202:
                    ids.append(json.loads(text)["query_id"])
                else:
                    bad.append(f"{response.status} {text[:200]}")

    connector = aiohttp.TCPConnector(limit=args.connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(args.connections)))
    posted = time.time()
    with open(args.ids, "w") as f:
        f.write("\n".join(ids) + "\n")
    print(f"first_post_epoch={first[0]:.6f} posted_s={posted - first[0]:.2f} accepted={len(ids)} non202={len(bad)} "
          f"first_bad={bad[0] if bad else ''}")


asyncio.run(main())
