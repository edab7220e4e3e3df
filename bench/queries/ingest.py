"""Posts bench/queries/chunks.json as one document for every tenant (one chunks:write token per tenant, one a
line in --tokens) through the gateway's POST /chunks, and prints how many chunks were accepted in all."""
import argparse
import json
import urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("--gateway", required=True)
parser.add_argument("--tokens", required=True)
parser.add_argument("--chunks", required=True)
args = parser.parse_args()

texts = json.load(open(args.chunks))["chunks"]
body = json.dumps({"chunks": [{"doc_id": "bench-handbook", "seq": i, "text": t, "visibility": "internal"}
                              for i, t in enumerate(texts)]}).encode()
accepted = 0
for token in open(args.tokens).read().split():
    request = urllib.request.Request(args.gateway + "/chunks", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202, response.status
        accepted += json.load(response)["accepted"]
print(accepted)
