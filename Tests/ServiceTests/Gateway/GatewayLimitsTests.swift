import Foundation
import Glibc
import Messaging
import ModelClients
import Testing

/// The gateway's limits over HTTP, against a live gateway process (`GatewayHarness`): error size,
/// U+0000, identity in metadata, tenant-less tokens, SSE subscription caps, 405 with Allow, the UI's
/// security headers, and idle or half-sent connections.
@Suite("Gateway: limits over HTTP", .timeLimit(.minutes(3)))
struct GatewayLimitsTests {
    @Test("a 1 MiB body of empty objects gets a small 400: the first violations and the count")
    func manyViolationsBody() async throws {
        let gateway = try await GatewayHarness(environment: ["RAG_GATEWAY_MAX_BODY_BYTES": "1048576"])
        let token = try await gateway.token()
        // 240 chunks (under maxItems) each with 440 unknown members, just under 1 MiB: over 100,000 violations.
        let members = (0..<440).map { "\"m\($0)\":0" }.joined(separator: ",")
        var body = "{\"chunks\":[" + Array(repeating: "{\(members)}", count: 240).joined(separator: ",") + "]}"
        #expect(body.utf8.count <= 1 << 20)
        var response = try await gateway.post("/chunks", body, token: token)
        #expect(response.status == 400 && response.problemCode == "schema_violation")
        #expect(response.text.utf8.count < 64 << 10, "problem body of \(response.text.utf8.count) bytes")
        #expect(response.violationPointers.count == 50)
        #expect(response.json["violation_count"] as? Int == 240 * (440 + 4))

        body = "{\"chunks\":[" + Array(repeating: "{}", count: 349_000).joined(separator: ",") + "]}"
        response = try await gateway.post("/chunks", body, token: token)
        #expect(response.status == 400 && response.text.utf8.count < 64 << 10)
        #expect(response.violationPointers == ["/chunks"] && response.json["violation_count"] as? Int == 1, "items are not checked past maxItems")
        #expect(try await gateway.recordCount(gateway.topics.chunks) == 0)
    }

    @Test("U+0000 anywhere in a body, member names included, is a 400 naming its pointer; nothing is produced")
    func nulRejected() async throws {
        let gateway = try await GatewayHarness()
        let token = try await gateway.token()
        let key = try await gateway.post("/chunks", #"{"doc_id":"d","seq":0,"text":"t","visibility":"public","metadata":{"a\u0000b":"x"}}"#, token: token)
        #expect(key.status == 400 && key.violationPointers.contains("/metadata/a\u{0}b"), "\(key.text)")
        let value = try await gateway.post("/queries", #"{"question":"why\u0000?"}"#, token: token)
        #expect(value.status == 400 && value.violationPointers == ["/question"], "\(value.text)")
        #expect(try await gateway.recordCount(gateway.topics.chunks) == 0)
        #expect(try await gateway.recordCount(gateway.topics.queries) == 0)
    }

    @Test("identity keys inside metadata never reach Kafka; a token without a tenant is tenant \"\", not \"default\"")
    func identityInMetadataAndMissingTenant() async throws {
        let gateway = try await GatewayHarness()
        let token = try await gateway.token("alice", tenant: nil)
        let response = try await gateway.post("/chunks", #"{"doc_id":"d","seq":0,"text":"t","visibility":"public","metadata":{"title":"T","user-id":"mallory","TENANT":"acme","user_tier":"enterprise","tier":"enterprise"}}"#, token: token)
        #expect(response.status == 202, "\(response.text)")
        let record = try #require(try await gateway.records(gateway.topics.chunks, count: 1).first)
        let value = try #require(try JSONSerialization.jsonObject(with: Data(record.value ?? [])) as? [String: Any])
        #expect((value["metadata"] as? [String: Any]).map { Array($0.keys) } == ["title"])
        #expect(record.headers.value("tenant") == "")
        #expect(record.headers.value("user-id") == "alice")
    }

    @Test("SSE subscriptions are capped per user (429 with Retry-After) and count against the rate limit")
    func subscriptionCaps() async throws {
        let gateway = try await GatewayHarness(environment: [
            "RAG_GATEWAY_SSE_MAX_PER_USER": "2", "RAG_GATEWAY_SSE_MAX_TOTAL": "3",
            "RAG_GATEWAY_RATE_LIMITS": "free=0.01/4;standard=1000/1000;enterprise=1000/1000",
        ])
        let alice = try await gateway.token("alice")
        var open = [try await SSESubscriber(gateway, path: "/results", token: alice), try await SSESubscriber(gateway, path: "/results", token: alice)]
        #expect(open.allSatisfy { $0.status == 200 })
        var refused = try await gateway.get("/results", token: alice)
        #expect(refused.status == 429 && refused.problemCode == "too_many_subscriptions" && refused.headers["retry-after"] != nil)
        open.append(try await SSESubscriber(gateway, path: "/results", token: try await gateway.token("bob")))
        refused = try await gateway.get("/results", token: try await gateway.token("carol"))
        #expect(refused.status == 503 && refused.problemCode == "subscriptions_exhausted" && refused.headers["retry-after"] != nil)
        open.forEach { $0.close() }

        // Free tier here: a burst of 4 requests, then 0.01/s. Four queries spend it; the subscription is refused.
        let free = try await gateway.token("dave", tier: "free")
        for index in 0..<4 {
            #expect(try await gateway.post("/queries", #"{"question":"q\#(index)"}"#, token: free).status == 202)
        }
        let limited = try await gateway.get("/results/q-x", token: free)
        #expect(limited.status == 429 && limited.problemCode == "rate_limited" && limited.headers["retry-after"] != nil)
    }

    @Test("an undeclared method on a served path is 405 with Allow; GET / sends CSP and nosniff")
    func methodsAndUIHeaders() async throws {
        let gateway = try await GatewayHarness()
        let delete = GatewayResponse(try await gateway.http.execute(HTTPRequest(method: .delete, url: gateway.url("/chunks"))))
        #expect(delete.status == 405 && delete.headers["allow"] == "POST" && delete.problemCode == "method_not_allowed")
        let put = GatewayResponse(try await gateway.http.execute(HTTPRequest(method: .put, url: gateway.url("/results/abc"))))
        #expect(put.status == 405 && put.headers["allow"] == "GET")
        #expect(try await gateway.get("/nowhere").status == 404)

        let ui = try await gateway.get("/")
        let policy = try #require(ui.headers["content-security-policy"])
        #expect(policy.contains("frame-ancestors 'none'") && policy.contains("script-src 'sha256-") && !policy.contains("unsafe-inline"))
        #expect(ui.headers["x-content-type-options"] == "nosniff")
    }

    @Test("a connection that sends half a request and stalls is closed after the idle timeout")
    func slowloris() async throws {
        let gateway = try await GatewayHarness(environment: ["RAG_GATEWAY_IDLE_TIMEOUT": "500ms", "RAG_GATEWAY_SSE_HEARTBEAT": "200ms"])
        // Half the headers, then nothing: the server must hang up (read returns 0) well before our 20 s.
        let closed = try await RawConnection.closesAfterSending("POST /chunks HTTP/1.1\r\nHost: x\r\nContent-Ty", port: gateway.port, waitAtMost: 20)
        #expect(closed, "the half-sent request's connection stayed open")
        // A half-sent body, likewise.
        let body = try await RawConnection.closesAfterSending(
            "POST /chunks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"doc", port: gateway.port, waitAtMost: 20)
        #expect(body, "the half-sent body's connection stayed open")
        // An SSE stream is not idle: it outlives the idle timeout.
        let stream = try await SSESubscriber(gateway, path: "/results", token: try await gateway.token())
        try await Task.sleep(for: .seconds(2))
        #expect(!stream.ended && stream.comments.contains("heartbeat"))
    }
}

/// A plain TCP connection for what an HTTP client library will not do: send part of a request and stall.
enum RawConnection {
    /// Sends `text` to 127.0.0.1:`port`, then waits (on a thread of its own) until the server closes the
    /// connection (true) or `waitAtMost` seconds pass (false). Any response bytes before the close are ignored.
    static func closesAfterSending(_ text: String, port: Int, waitAtMost seconds: Int) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                guard socket >= 0 else { continuation.resume(throwing: POSIXError(.EIO)); return }
                defer { close(socket) }
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                guard connected == 0 else { continuation.resume(throwing: POSIXError(.ECONNREFUSED)); return }
                _ = text.withCString { send(socket, $0, strlen($0), 0) }
                var timeout = timeval(tv_sec: seconds, tv_usec: 0)
                setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = recv(socket, &buffer, buffer.count, 0)
                    if count == 0 { continuation.resume(returning: true); return }      // orderly close
                    if count < 0 {
                        // Timed out (EAGAIN): still open. A reset also means the server dropped it.
                        continuation.resume(returning: errno == ECONNRESET)
                        return
                    }
                }
            }
        }
    }
}
