-- wrk script for scripts/bench-gateway.sh: POST /queries with the bearer token from $TOKEN.
--
-- Counts every response whose status is not 202 (wrk's own "Non-2xx" count would let 200/204 through and
-- says nothing about 4xx vs 5xx), keeps the first such status and body for the report, and prints one
-- machine-readable line at the end:
--   BENCH requests=N duration_s=S rps=R p50_ms=A p90_ms=B p99_ms=C max_ms=D non202=K socket_errors=E first_bad=STATUS first_bad_body=...
local token = os.getenv("TOKEN")
if token == nil or token == "" then
  error("post-query.lua: set TOKEN to a bearer token")
end

wrk.method = "POST"
wrk.path = "/queries"
wrk.body = '{"question": "What is the best way to learn Spanish quickly online?", "top_k": 5}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non202 = 0
  first_bad = ""
  first_bad_body = ""
end

function response(status, headers, body)
  if status ~= 202 then
    non202 = non202 + 1
    if first_bad == "" then
      first_bad = tostring(status)
      first_bad_body = string.sub(string.gsub(body or "", "%s+", " "), 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local bad, first, first_body = 0, "", ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non202")
    if first == "" and thread:get("first_bad") ~= "" then
      first = thread:get("first_bad")
      first_body = thread:get("first_bad_body")
    end
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non202=%d socket_errors=%d first_bad=%s first_bad_body=%s\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    bad, e.connect + e.read + e.write + e.timeout, first == "" and "-" or first, first_body))
end
