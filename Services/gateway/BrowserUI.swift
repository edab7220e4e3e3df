import Crypto
import Foundation
import HTTPTypes

/// The browser UI served at `GET /`: pick a development identity, ingest text, ask, watch the answer
/// stream in with its citations — as the chosen identity, or as each tier at once, side by side, to see what
/// each may read. One self-contained page; tokens come from `POST /dev/token`, which the
/// gateway serves only with `RAG_GATEWAY_DEV_SIGNING_KEY_FILE` set on a loopback address (as `make dev` does).
///
/// Served with a Content-Security-Policy that allows exactly its own inline script and style (by SHA-256),
/// requests to its own origin, and no framing (`frame-ancestors 'none'`), plus `X-Content-Type-Options:
/// nosniff`: an injected script or a page that frames the UI to click-jack it gets nowhere.
enum BrowserUI {
    /// The headers of `GET /`.
    static let headers: HTTPFields = {
        var fields: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
        fields[.contentSecurityPolicy] = contentSecurityPolicy
        fields[.xContentTypeOptions] = "nosniff"
        fields[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return fields
    }()

    /// `default-src 'none'`, then only what the page needs: its inline `<script>` and `<style>` by hash,
    /// fetch and EventSource to its own origin.
    static let contentSecurityPolicy: String = {
        func hashes(of tag: String) -> String {
            var sources: [String] = []
            var rest = html[...]
            while let open = rest.range(of: "<\(tag)>"), let close = rest.range(of: "</\(tag)>", range: open.upperBound..<rest.endIndex) {
                let body = rest[open.upperBound..<close.lowerBound]
                sources.append("'sha256-\(Data(SHA256.hash(data: Array(body.utf8))).base64EncodedString())'")
                rest = rest[close.upperBound...]
            }
            return sources.joined(separator: " ")
        }
        return "default-src 'none'; script-src \(hashes(of: "script")); style-src \(hashes(of: "style")); connect-src 'self'; "
            + "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    }()

    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <title>kafka-rag</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <style>
      body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2430; }
      header { background: #1d2430; color: #fff; padding: 12px 24px; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
      header h1 { font-size: 18px; margin: 0 16px 0 0; }
      header label { font-size: 13px; }
      main { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; padding: 20px 24px; max-width: 1200px; }
      section { background: #fff; border-radius: 8px; padding: 16px 18px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
      h2 { font-size: 16px; margin: 0 0 12px; }
      textarea, input[type=text] { width: 100%; box-sizing: border-box; font: inherit; padding: 6px 8px; border: 1px solid #c9ced6; border-radius: 5px; }
      textarea { min-height: 110px; }
      button { font: inherit; padding: 6px 14px; border-radius: 5px; border: 0; background: #2f6fed; color: #fff; cursor: pointer; margin-top: 8px; }
      button.secondary { background: #8a94a6; }
      pre { background: #f0f2f5; padding: 10px; border-radius: 5px; white-space: pre-wrap; word-break: break-word; font-size: 13px; }
      .answer { font-size: 16px; min-height: 48px; }
      .citation { font-size: 13px; color: #455; }
      .tiers { grid-column: 1 / -1; }
      .tier-columns { display: grid; grid-template-columns: repeat(3, 1fr); gap: 14px; }
      .tier-columns h3 { font-size: 14px; margin: 0 0 6px; text-transform: capitalize; }
      .refused { color: #8a5a00; }
      .error { color: #b00020; }
      #identity-status { font-size: 12px; opacity: .8; }
    </style>
    </head>
    <body>
    <header>
      <h1>kafka-rag</h1>
      <label>user <input id="sub" type="text" value="alice" size="8"></label>
      <label>tenant <select id="tenant"><option>acme</option><option>globex</option></select></label>
      <label>tier <select id="tier"><option>free</option><option selected>standard</option><option>enterprise</option></select></label>
      <label><input id="write" type="checkbox" checked> chunks:write</label>
      <button id="use-identity">use identity</button>
      <span id="identity-status"></span>
    </header>
    <main>
      <section>
        <h2>Ingest</h2>
        <label>doc_id <input id="doc-id" type="text" value="handbook"></label>
        <label>visibility <select id="visibility"><option>public</option><option selected>internal</option><option>confidential</option></select></label>
        <textarea id="text">Employees may work remotely up to three days a week after their probation period.</textarea>
        <button id="ingest">POST /chunks</button>
        <button id="malformed" class="secondary">send a malformed request</button>
        <pre id="ingest-result"></pre>
      </section>
      <section>
        <h2>Ask</h2>
        <input id="question" type="text" value="How many days a week can employees work remotely?">
        <button id="ask">POST /queries</button>
        <button id="ask-tiers" class="secondary">ask as every tier</button>
        <div class="answer" id="answer"></div>
        <div id="citations"></div>
        <pre id="query-result"></pre>
      </section>
      <section class="tiers">
        <h2>The same question, per tier (same user and tenant)</h2>
        <div class="tier-columns">
          <div id="tier-free"><h3>free</h3><div class="answer"></div><div class="citations"></div></div>
          <div id="tier-standard"><h3>standard</h3><div class="answer"></div><div class="citations"></div></div>
          <div id="tier-enterprise"><h3>enterprise</h3><div class="answer"></div><div class="citations"></div></div>
        </div>
      </section>
    </main>
    <script>
    let token = null;
    let seq = 0;
    const $ = (id) => document.getElementById(id);
    function identity(tier) {
      return { sub: $("sub").value, tier: tier ?? $("tier").value, tenant: $("tenant").value,
               scope: $("write").checked ? "chunks:write" : "" };
    }
    async function fetchToken(body) {
      const response = await fetch("/dev/token", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      if (!response.ok) { $("identity-status").textContent = "no dev tokens: " + response.status; return null; }
      return (await response.json()).token;
    }
    async function mintToken() {
      const body = identity();
      token = await fetchToken(body);
      if (token) $("identity-status").textContent = `${body.sub} @ ${body.tenant} (${body.tier})`;
    }
    async function call(method, path, body, raw, bearer) {
      if (!bearer && !token) await mintToken();
      const response = await fetch(path, { method, body: raw ?? JSON.stringify(body),
        headers: { "Content-Type": "application/json", "Authorization": "Bearer " + (bearer ?? token) } });
      const text = await response.text();
      return { status: response.status, text };
    }
    function show(element, result) {
      element.textContent = `${result.status}\n` + result.text;
      element.className = result.status >= 400 ? "error" : "";
    }
    // Citations as text nodes: doc ids come from users, never markup.
    function line(text, className) {
      const div = document.createElement("div");
      div.className = className;
      div.textContent = text;
      return div;
    }
    // Asks with `bearer`, then follows the query's SSE stream: tokens into `answer` as they arrive, then the
    // result (the whole answer, its citations, model and status).
    async function ask(bearer, answer, citations, status) {
      answer.textContent = ""; answer.className = "answer"; citations.replaceChildren();
      const result = await call("POST", "/queries", { question: $("question").value, stream: true }, null, bearer);
      if (status) show(status, result);
      if (result.status !== 202) { answer.textContent = `${result.status}: ${result.text}`; answer.className = "answer error"; return; }
      const { query_id } = JSON.parse(result.text);
      const events = new EventSource(`/results/${query_id}?access_token=${encodeURIComponent(bearer)}`);
      events.addEventListener("delta", (e) => { answer.textContent += JSON.parse(e.data).text; });
      events.addEventListener("result", (e) => {
        const r = JSON.parse(e.data);
        answer.textContent = r.answer;
        answer.className = r.status === "answered" ? "answer" : "answer refused";
        citations.replaceChildren(
          ...(r.citations || []).map((c) => line(`[${c.doc_id} · ${c.chunk_id.slice(0, 12)} · ${c.score.toFixed(3)}]`, "citation")),
          line(`model ${r.model} · ${r.status} · ${r.latency_ms} ms`, "citation meta"));
        events.close();
      });
      events.addEventListener("error", (e) => { if (e.data) answer.textContent += "\n" + e.data; });
    }
    $("use-identity").onclick = mintToken;
    $("ingest").onclick = async () => {
      seq += 1;
      show($("ingest-result"), await call("POST", "/chunks", { doc_id: $("doc-id").value, seq, text: $("text").value, visibility: $("visibility").value }));
    };
    $("malformed").onclick = async () => {
      show($("ingest-result"), await call("POST", "/chunks", null, '{"doc_id": 42, "seq": "one", "visibility": "secret", "colour": "red"}'));
    };
    $("ask").onclick = async () => {
      if (!token) await mintToken();
      await ask(token, $("answer"), $("citations"), $("query-result"));
    };
    $("ask-tiers").onclick = async () => {
      await Promise.all(["free", "standard", "enterprise"].map(async (tier) => {
        const column = $("tier-" + tier);
        const bearer = await fetchToken(identity(tier));
        if (bearer) await ask(bearer, column.querySelector(".answer"), column.querySelector(".citations"), null);
      }));
    };
    mintToken();
    </script>
    </body>
    </html>
    """#
}
