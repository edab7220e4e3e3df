import Auth
import Foundation
@testable import Gateway
import Messaging
import Schemas
import Testing
import WorkerRuntime

/// The gateway's defences against misbehaving clients, in process: slow SSE readers, subscription floods,
/// a tenant flooding the results window, bodies with thousands of violations, ambiguous identities and
/// trace headers. The HTTP-level checks are in `GatewayLimitsTests`.
@Suite("Gateway hardening: limits and identity edge cases", .timeLimit(.minutes(1)))
struct GatewayHardeningTests {
    let ranks: @Sendable (String) -> Int? = { ["free": 0, "standard": 1, "enterprise": 2][$0] }

    func result(_ partition: Int32, _ offset: Int64, query: String, user: String, tenant: String, value: String = "{}") -> KafkaRecord {
        KafkaRecord(topic: "rag.results", partition: partition, offset: offset, key: Array(query.utf8), value: Array(value.utf8),
                    headers: [KafkaHeader("user-id", user), KafkaHeader("tenant", tenant), KafkaHeader("user-tier", "standard")],
                    timestampMilliseconds: 0)
    }

    func filter(_ user: String, tenant: String = "acme") -> ResultsHub.Filter {
        ResultsHub.Filter(userID: user, tenant: tenant, tierRank: 1, queryID: nil)
    }

    @Test("a subscriber that stops reading is cut off alone, after the events it had buffered; others are untouched")
    func slowSubscriberOverflow() async throws {
        var limits = ResultsHub.Limits()
        limits.subscriberBuffer = 2
        let hub = ResultsHub(lookback: .seconds(600), limits: limits, tierRank: ranks)
        let stalled = try hub.subscribe(filter("alice"), caller: CallerID(tenant: "acme", userID: "alice"), lastEventID: nil)
        let reading = try hub.subscribe(filter("bob"), caller: CallerID(tenant: "acme", userID: "bob"), lastEventID: nil)

        // Five events for alice, who reads nothing: the third does not fit her buffer of two.
        for offset in 1...5 { hub.ingest(result(0, Int64(offset), query: "q\(offset)", user: "alice", tenant: "acme"), kind: .result) }
        hub.ingest(result(1, 1, query: "qb", user: "bob", tenant: "acme"), kind: .result)

        #expect(stalled.overflowed)
        var received: [String] = []
        for await item in stalled.items { if case .event(let event) = item { received.append(event.id) } }
        #expect(received == ["r.0.1", "r.0.2"], "the stream ends after what fitted, so Last-Event-ID resumes exactly")
        #expect(hub.subscriberCount == 1, "only the stalled subscriber was removed")

        var iterator = reading.items.makeAsyncIterator()
        guard case .event(let event)? = await iterator.next() else { Issue.record("bob's stream must keep flowing"); return }
        #expect(event.id == "r.1.1" && !reading.overflowed)
        // New events keep reaching bob; none are offered to the removed subscriber.
        hub.ingest(result(1, 2, query: "qb2", user: "bob", tenant: "acme"), kind: .result)
        guard case .event(let next)? = await iterator.next() else { Issue.record("bob's stream must keep flowing"); return }
        #expect(next.id == "r.1.2")
    }

    @Test("subscriptions are capped per caller (429) and per instance (503); closing one frees its place")
    func subscriberCaps() throws {
        var limits = ResultsHub.Limits()
        limits.subscribersPerCaller = 2
        limits.subscribersTotal = 3
        let hub = ResultsHub(lookback: .seconds(600), limits: limits, tierRank: ranks)
        let alice = CallerID(tenant: "acme", userID: "alice")
        // Held: a subscription whose stream is released ends, and frees its place.
        var open = [try hub.subscribe(filter("alice"), caller: alice, lastEventID: nil)]
        open.append(try hub.subscribe(filter("alice"), caller: alice, lastEventID: nil))
        #expect(throws: ResultsHub.Refusal.tooManyForCaller(limit: 2)) { try hub.subscribe(filter("alice"), caller: alice, lastEventID: nil) }
        // Same user name without a tenant is another caller.
        open.append(try hub.subscribe(filter("alice", tenant: ""), caller: CallerID(tenant: nil, userID: "alice"), lastEventID: nil))
        #expect(throws: ResultsHub.Refusal.tooManyInTotal(limit: 3)) {
            try hub.subscribe(filter("bob"), caller: CallerID(tenant: "acme", userID: "bob"), lastEventID: nil)
        }
        open[0].continuation.finish()
        #expect(hub.subscriberCount == 2)
        open.append(try hub.subscribe(filter("alice"), caller: alice, lastEventID: nil))
        #expect(hub.subscriberCount == 3)
    }

    @Test("the results window is bounded in bytes and fair: a flooding tenant evicts its own results, not another's")
    func fairWindow() throws {
        var limits = ResultsHub.Limits()
        limits.windowBytes = 64 << 10
        let hub = ResultsHub(lookback: .seconds(600), limits: limits, tierRank: ranks)
        hub.ingest(result(0, 1, query: "q-acme", user: "alice", tenant: "acme", value: #"{"answer":"small"}"#), kind: .result)
        let big = "{\"answer\":\"" + String(repeating: "x", count: 2000) + "\"}"
        for offset in 1...1000 { hub.ingest(result(1, Int64(offset), query: "q\(offset)", user: "mallory", tenant: "flood", value: big), kind: .result) }

        let late = try hub.subscribe(filter("alice"), caller: CallerID(tenant: "acme", userID: "alice"), lastEventID: nil)
        #expect(late.backlog.map(\.queryID) == ["q-acme"], "another tenant's flood did not push acme's result out")
        let bytes = hub.windowBytesByTenant
        #expect(bytes.values.reduce(0, +) <= limits.windowBytes)
        #expect((bytes["flood"] ?? 0) > 0 && (bytes["flood"] ?? 0) < limits.windowBytes)
        let flood = try hub.subscribe(filter("mallory", tenant: "flood"), caller: CallerID(tenant: "flood", userID: "mallory"), lastEventID: nil)
        #expect(flood.backlog.last?.queryID == "q1000" && flood.backlog.count < 1000, "the flooder keeps its newest results")
    }

    // MARK: - Error size

    @Test("a body breaking its schema hundreds of thousands of times gets a problem under 64 KiB listing 50 and the count")
    func manyViolations() throws {
        let schemas = try SchemaRegistry.bundled()
        // 256 chunks (the batch maximum), each with 1000 unknown members: 256,000 + 1,024 violations.
        let unknown = (0..<1000).map { "\"k\($0)\":1" }.joined(separator: ",")
        let chunk = "{\(unknown)}"
        let body = try JSONValue.parse(Array("{\"chunks\":[\(Array(repeating: chunk, count: 256).joined(separator: ","))]}".utf8))
        let summary = schemas.validate(body, against: .chunkBatchRequest, limit: Problem.maxListedViolations)
        #expect(summary.violations.count == 50)
        #expect(summary.totalCount == 256 * (1000 + 4))
        let problem = Problem.schemaViolation(summary).body(instance: "/chunks")
        #expect(problem.count < 64 << 10)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(problem)) as? [String: Any])
        #expect(document["violation_count"] as? Int == 256 * 1004)
        #expect((document["violations"] as? [Any])?.count == 50)

        // 1 MiB of empty objects: once maxItems fails the items are not checked.
        let empties = try JSONValue.parse(Array(("{\"chunks\":[" + Array(repeating: "{}", count: 349_000).joined(separator: ",") + "]}").utf8))
        let tooMany = schemas.validate(empties, against: .chunkBatchRequest, limit: Problem.maxListedViolations)
        #expect(tooMany.totalCount == 1 && tooMany.violations.first?.keyword == "maxItems")
    }

    @Test("pointers and paths taken from the request are clipped: a huge member name still gives a small problem")
    func clippedPointers() throws {
        let name = String(repeating: "n", count: 900_000)
        let violations = (0..<50).map { SchemaViolation(pointer: "/\(name)\($0)", keyword: "additionalProperties", message: "is not allowed") }
        let problem = Problem.schemaViolation(violations).body(instance: "/" + name)
        #expect(problem.count < 64 << 10)
    }

    @Test("U+0000 in any member name or string value is a violation at its JSON pointer")
    func nulCharacters() throws {
        let body = try JSONValue.parse(Array(#"{"doc_id":"d","seq":0,"text":"ok","visibility":"public","metadata":{"ti\u0000tle":"x","page":"a\u0000b"},"list":["\u0000"]}"#.utf8))
        let summary = body.nulCharacterViolations()
        #expect(summary.violations.map(\.pointer) == ["/metadata/ti\u{0}tle", "/metadata/page", "/list/0"])
        #expect(summary.violations.map(\.keyword) == ["propertyNames", "nul", "nul"])
        #expect(try JSONValue.parse(Array(#"{"text":"fine"}"#.utf8)).nulCharacterViolations().isEmpty)
    }

    // MARK: - Identity

    @Test("identity-like members are dropped at the top level, in batch elements and inside metadata")
    func identityFieldsDropped() throws {
        let body = try JSONValue.parse(Array(#"{"chunks":[{"doc_id":"d","user_id":"x","metadata":{"title":"t","user-id":"m","User_Tier":"enterprise","Tenant":"other","tier":"x","tenant-id":"y","userId":"z"}}],"tenant":"evil"}"#.utf8))
        let cleaned = GatewayAPI.droppingIdentityFields(body, nested: "chunks")
        #expect(cleaned["tenant"] == nil)
        let chunk = try #require(cleaned["chunks"]?.arrayValue?.first)
        #expect(chunk["user_id"] == nil && chunk["doc_id"]?.stringValue == "d")
        guard case .object(let metadata)? = chunk["metadata"] else { Issue.record("metadata kept"); return }
        #expect(metadata.keys == ["title"])
    }

    @Test("a caller without a tenant shares no idempotency key, bucket or header value with a tenant named default")
    func missingTenantIsNotDefault() {
        let clock = ManualClock()
        let store = IdempotencyStore(retention: .seconds(60), now: clock.now)
        let body = Array(#"{"question":"q"}"#.utf8)
        guard case .new(let withoutTenant) = store.reserve(key: "k", tenant: nil, user: "alice", body: body),
              case .new(let defaultTenant) = store.reserve(key: "k", tenant: "default", user: "alice", body: Array("{}".utf8))
        else { Issue.record("both keys must be new"); return }
        #expect(withoutTenant != defaultTenant)

        let limiter = TokenBucketRateLimiter(now: clock.now)
        let one = TokenBucketRateLimiter.Limit(perSecond: 0.001, burst: 1)
        #expect(limiter.acquire(CallerID(tenant: nil, userID: "alice"), limit: one) == .allowed)
        #expect(limiter.acquire(CallerID(tenant: "default", userID: "alice"), limit: one) == .allowed)
        #expect(limiter.acquire(CallerID(tenant: "a/b", userID: "c"), limit: one) == .allowed)
        #expect(limiter.acquire(CallerID(tenant: "a", userID: "b/c"), limit: one) == .allowed, "no concatenation collisions")

        let tenantless = Identity(userID: "alice", tier: TierPolicy.default.tier(named: "free")!, tenant: nil, scopes: [])
        #expect(tenantless.tenantHeaderValue == "")
        #expect(ChunkID.make(tenant: tenantless.tenantHeaderValue, docID: "d", seq: 0, model: "m")
                != ChunkID.make(tenant: "default", docID: "d", seq: 0, model: "m"))
    }

    @Test("traceparent: a valid one is continued; upper case, version ff and all-zero ids start a new trace")
    func traceparent() {
        let valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        let child = TraceParent.child(of: valid)
        #expect(child.hasPrefix("00-0af7651916cd43dd8448eb211c80319c-") && child.hasSuffix("-01"))
        #expect(!child.contains("b7ad6b7169203331"), "a new span id")
        for invalid in [
            "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1",
            "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
        ] {
            let fresh = TraceParent.child(of: invalid)
            #expect(!fresh.contains("0af7651916cd43dd8448eb211c80319c") && !fresh.lowercased().contains("0af7651916cd43dd8448eb211c80319c"), "\(invalid)")
            let parts = fresh.split(separator: "-")
            #expect(parts.count == 4 && parts[0] == "00" && parts[1].count == 32 && parts[2].count == 16 && fresh == fresh.lowercased())
        }
    }

    // MARK: - Start-up rules

    func configurationProblems(_ environment: [String: String]) -> String? {
        var reader = ConfigurationReader(environment: ["RAG_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092"].merging(environment) { $1 })
        _ = GatewayConfiguration(reading: &reader)
        do { try reader.validate(); return nil } catch { return "\(error)" }
    }

    @Test("with a public key or JWKS the gateway needs an audience, unless RAG_JWT_AUDIENCE_CHECK=off")
    func audienceRule() {
        #expect(configurationProblems(["RAG_JWT_PUBLIC_KEY_FILE": "/k.pem"])?.contains("RAG_JWT_AUDIENCE") == true)
        #expect(configurationProblems(["RAG_JWT_JWKS_URL": "https://issuer/jwks"])?.contains("RAG_JWT_AUDIENCE") == true)
        #expect(configurationProblems(["RAG_JWT_PUBLIC_KEY_FILE": "/k.pem", "RAG_JWT_AUDIENCE": "kafka-rag"]) == nil)
        #expect(configurationProblems(["RAG_JWT_PUBLIC_KEY_FILE": "/k.pem", "RAG_JWT_AUDIENCE_CHECK": "off"]) == nil)
        #expect(configurationProblems(["RAG_JWT_HS256_SECRET": String(repeating: "s", count: 32)]) == nil, "a shared secret is the gateway's own")
        #expect(configurationProblems(["RAG_JWT_PUBLIC_KEY_FILE": "/k.pem", "RAG_JWT_AUDIENCE": "a", "RAG_JWT_AUDIENCE_CHECK": "off"]) != nil)
    }

    @Test("development tokens are refused on a non-loopback bind")
    func developmentTokensLoopbackOnly() throws {
        var reader = ConfigurationReader(environment: [
            "RAG_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "RAG_JWT_HS256_SECRET": String(repeating: "s", count: 32),
            "RAG_GATEWAY_DEV_SIGNING_KEY_FILE": "/dev.pem",
        ])
        let configuration = GatewayConfiguration(reading: &reader)
        for host in ["127.0.0.1", "127.1.2.3", "::1", "localhost", "[::1]"] {
            #expect(throws: Never.self, "\(host)") { try Gateway.refuseUnsafeSettings(configuration, host: host) }
        }
        for host in ["0.0.0.0", "::", "10.0.0.5", "gateway.internal", "127.0.0.1.evil.example"] {
            #expect(throws: Gateway.UnsafeSettings.self, "\(host)") { try Gateway.refuseUnsafeSettings(configuration, host: host) }
        }
    }

    @Test("route templates: a served path with another method is recognised for 405")
    func routeTemplates() {
        let results = RouteTemplate(path: "/results/{query_id}", methods: [.get])
        #expect(results.matches("/results/abc") && !results.matches("/results") && !results.matches("/results/a/b"))
        #expect(RouteTemplate(path: "/", methods: [.get]).matches("/"))
    }
}
