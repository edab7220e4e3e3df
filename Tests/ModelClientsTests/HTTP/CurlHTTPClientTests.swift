import Foundation
import ModelClients
import Synchronization
import Testing

/// Against a real Hummingbird server in the same process. Serialized: the concurrency test measures
/// wall time and should not share two cores with the others.
@Suite("CurlHTTPClient", .serialized, .timeLimit(.minutes(2)))
struct CurlHTTPClientTests {
    private let clock = ContinuousClock()

    @Test func simpleGet() async throws {
        try await TestHTTPServer.withServer { server in
            let client = CurlHTTPClient()
            defer { client.shutdown() }
            let response = try await client.execute(HTTPRequest(url: server.baseURL + "/hello"))
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == "hello")
            #expect(response.headers["content-length"] == "5")
        }
    }

    @Test func boundedConcurrencyWithManyRequests() async throws {
        try await TestHTTPServer.withServer { server in
            let client = CurlHTTPClient(configuration: HTTPClientConfiguration(maxConcurrentRequests: 100, defaultTimeout: .seconds(30)))
            defer { client.shutdown() }
            let url = server.baseURL + "/sleep?ms=200"
            let start = clock.now
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<500 {
                    group.addTask { try await client.execute(HTTPRequest(url: url)).status }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            let elapsed = clock.now - start

            #expect(statuses.count == 500)
            #expect(statuses.allSatisfy { $0 == 200 })
            #expect(server.probe.completed == 500)
            #expect(server.probe.maxInFlight <= 100)
            #expect(server.probe.maxInFlight >= 90, "the client should use (nearly) all of its 100 slots")
            // 500 requests × 200 ms / 100 slots = 1 s at best.
            #expect(elapsed >= .milliseconds(900))
            print("500 requests, limit 100: \(elapsed), server max concurrency \(server.probe.maxInFlight)")
            #expect(client.load == (0, 0))
        }
    }

    @Test func unixDomainSocket() async throws {
        let path = "/tmp/model-clients-\(UUID().uuidString.prefix(8)).sock"
        defer { unlink(path) }
        try await TestHTTPServer.withServer(unixSocketPath: path) { server in
            let client = CurlHTTPClient(configuration: HTTPClientConfiguration(unixSocketPath: path))
            defer { client.shutdown() }
            let response = try await client.execute(HTTPRequest(url: server.baseURL + "/hello"))
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == "hello")

            let echo = try await client.execute(HTTPRequest(method: .post, url: server.baseURL + "/echo", body: Array("over uds".utf8)))
            #expect(String(decoding: echo.body, as: UTF8.self) == "over uds")
        }
    }

    @Test func slowEndpointTimesOut() async throws {
        try await TestHTTPServer.withServer { server in
            let client = CurlHTTPClient()
            defer { client.shutdown() }
            let start = clock.now
            let error = await #expect(throws: HTTPClientError.self) {
                _ = try await client.execute(HTTPRequest(url: server.baseURL + "/sleep?ms=3000", timeout: .milliseconds(300)))
            }
            let elapsed = clock.now - start
            #expect(error?.kind == .timeout)
            #expect(error?.curlCode == 28)  // CURLE_OPERATION_TIMEDOUT
            #expect(error?.isRetryable == true)
            #expect(elapsed >= .milliseconds(250))
            #expect(elapsed < .milliseconds(2900), "the server answers after 3 s; the timeout must end the call first")
        }
    }

    @Test func connectionRefusedIsRetryable() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let client = CurlHTTPClient()
        defer { client.shutdown() }
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await client.execute(HTTPRequest(url: "http://127.0.0.1:\(refusing.port)/hello"))
        }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.curlCode == 7)  // CURLE_COULDNT_CONNECT
        #expect(error?.isRetryable == true)
    }

    @Test func postBodyAndHeadersRoundTrip() async throws {
        try await TestHTTPServer.withServer { server in
            let client = CurlHTTPClient()
            defer { client.shutdown() }

            let json = Array(#"{"model":"m","input":["a","b"]}"#.utf8)
            let small = try await client.execute(HTTPRequest(
                method: .post,
                url: server.baseURL + "/echo",
                headers: ["Content-Type": "application/json", "X-Custom": "value-123"],
                body: json
            ))
            #expect(small.status == 200)
            #expect(small.body == json)
            #expect(small.headers["X-Echo-Custom"] == "value-123")
            #expect(small.headers["x-echo-content-type"] == "application/json")
            #expect(small.headers["x-echo-method"] == "POST")

            var generator = SystemRandomNumberGenerator()
            let large = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let echoed = try await client.execute(HTTPRequest(
                method: .post,
                url: server.baseURL + "/echo",
                headers: ["Content-Type": "application/octet-stream", "X-Custom": "large"],
                body: large
            ))
            #expect(echoed.status == 200)
            #expect(echoed.headers["x-echo-length"] == String(1 << 20))
            #expect(echoed.headers["x-echo-expect"] == "none", "no Expect: 100-continue for large bodies")
            #expect(echoed.body.count == large.count)
            #expect(echoed.body == large)
        }
    }

    @Test func statusCodesAreResponsesWithRetryAfter() async throws {
        try await TestHTTPServer.withServer { server in
            let client = CurlHTTPClient()
            defer { client.shutdown() }
            let limited = try await client.execute(HTTPRequest(url: server.baseURL + "/status?code=429&retryAfter=7"))
            #expect(limited.status == 429)
            #expect(limited.retryAfter() == .seconds(7))
            let failed = try await client.execute(HTTPRequest(url: server.baseURL + "/status?code=503"))
            #expect(failed.status == 503)
            #expect(failed.retryAfter() == nil)
        }
    }

    @Test func invalidHeaderIsRejected() async throws {
        let client = CurlHTTPClient()
        defer { client.shutdown() }
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await client.execute(HTTPRequest(url: "http://127.0.0.1:1/", headers: ["X-Evil": "a\r\nInjected: yes"]))
        }
        #expect(error?.kind == .invalidRequest)
        #expect(error?.isRetryable == false)
    }

    @Test func streamedResponseArrivesInChunksBeforeTheServerFinishes() async throws {
        try await TestHTTPServer.withServer { server in
            let client = CurlHTTPClient()
            defer { client.shutdown() }
            let response = try await client.stream(HTTPRequest(url: server.baseURL + "/stream?chunks=5&delayMs=150"))
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "text/event-stream")
            #expect(server.probe.streamFinished.load(ordering: .acquiring) == false, "the head arrives before the body ends")

            var chunks: [(text: String, serverFinished: Bool)] = []
            for try await chunk in response.body {
                chunks.append((String(decoding: chunk, as: UTF8.self), server.probe.streamFinished.load(ordering: .acquiring)))
            }
            #expect(chunks.count >= 3, "expected several chunks, got \(chunks.count)")
            #expect(chunks.first?.serverFinished == false, "the first chunk arrives while the server is still writing")
            #expect(chunks.map(\.text).joined() == (0..<5).map { "chunk \($0)\n" }.joined())
        }
    }

    @Test func streamBackpressureDeliversEveryByteInOrder() async throws {
        try await TestHTTPServer.withServer { server in
            // A 32 KiB buffer limit forces the transfer to pause and resume many times.
            let client = CurlHTTPClient(configuration: HTTPClientConfiguration(streamBufferLimit: 32 << 10))
            defer { client.shutdown() }
            let total = 4 << 20
            let response = try await client.stream(HTTPRequest(url: server.baseURL + "/bulk?bytes=\(total)"))
            var received = 0
            var inOrder = true
            var pieces = 0
            for try await chunk in response.body {
                for (offset, byte) in chunk.enumerated() where byte != UInt8((received + offset) % 251) {
                    inOrder = false
                    break
                }
                received += chunk.count
                pieces += 1
                if pieces % 16 == 0 { try await Task.sleep(for: .milliseconds(5)) }  // a slow consumer
            }
            #expect(received == total)
            #expect(inOrder)
        }
    }

    @Test func cancellingTheTaskFreesTheSlot() async throws {
        try await TestHTTPServer.withServer { server in
            let client = CurlHTTPClient(configuration: HTTPClientConfiguration(maxConcurrentRequests: 1))
            defer { client.shutdown() }
            let slow = Task { try await client.execute(HTTPRequest(url: server.baseURL + "/sleep?ms=10000")) }
            try await waitUntil { server.probe.inFlight == 1 }

            let start = clock.now
            slow.cancel()
            let result = await slow.result
            let elapsed = clock.now - start
            #expect(throws: CancellationError.self) { try result.get() }
            #expect(elapsed < .seconds(8), "the server answers after 10 s; cancellation took \(elapsed)")

            // The single slot is free again: a new request runs right away.
            let response = try await client.execute(HTTPRequest(url: server.baseURL + "/hello", timeout: .seconds(3)))
            #expect(response.status == 200)
            #expect(client.load == (0, 0))
        }
    }

    @Test func cancellingAWaitingRequestLeavesTheQueue() async throws {
        try await TestHTTPServer.withServer { server in
            let client = CurlHTTPClient(configuration: HTTPClientConfiguration(maxConcurrentRequests: 1))
            defer { client.shutdown() }
            let slow = Task { try await client.execute(HTTPRequest(url: server.baseURL + "/sleep?ms=10000")) }
            try await waitUntil { server.probe.inFlight == 1 }
            let queued = Task { try await client.execute(HTTPRequest(url: server.baseURL + "/hello")) }
            try await waitUntil { client.load == (1, 1) }

            queued.cancel()
            await #expect(throws: CancellationError.self) { try await queued.value }
            #expect(client.load == (1, 0))
            slow.cancel()
            await #expect(throws: CancellationError.self) { try await slow.value }

            let response = try await client.execute(HTTPRequest(url: server.baseURL + "/hello", timeout: .seconds(3)))
            #expect(response.status == 200)
        }
    }

    @Test func droppingAStreamedResponseFreesTheSlot() async throws {
        try await TestHTTPServer.withServer { server in
            let client = CurlHTTPClient(configuration: HTTPClientConfiguration(maxConcurrentRequests: 1))
            defer { client.shutdown() }
            do {
                let response = try await client.stream(HTTPRequest(url: server.baseURL + "/stream?chunks=100&delayMs=100"))
                var iterator = response.body.makeAsyncIterator()
                let first = try await iterator.next()
                #expect(first.map { String(decoding: $0, as: UTF8.self) } == "chunk 0\n")
            }  // response and iterator dropped here, unread
            let start = clock.now
            let response = try await client.execute(HTTPRequest(url: server.baseURL + "/hello", timeout: .seconds(3)))
            #expect(response.status == 200)
            #expect(clock.now - start < .seconds(3), "the dropped stream would hold the only slot for 10 s")
        }
    }

    @Test func cancellingAStreamConsumerThrowsCancellation() async throws {
        try await TestHTTPServer.withServer { server in
            let client = CurlHTTPClient(configuration: HTTPClientConfiguration(maxConcurrentRequests: 1))
            defer { client.shutdown() }
            let response = try await client.stream(HTTPRequest(url: server.baseURL + "/stream?chunks=100&delayMs=100"))
            let consumer = Task {
                var count = 0
                for try await _ in response.body { count += 1 }
                return count
            }
            try await Task.sleep(for: .milliseconds(250))
            consumer.cancel()
            await #expect(throws: CancellationError.self) { try await consumer.value }
            try await waitUntil { client.load == (0, 0) }
        }
    }

    @Test func shutdownFailsPendingRequests() async throws {
        try await TestHTTPServer.withServer { server in
            let client = CurlHTTPClient(configuration: HTTPClientConfiguration(maxConcurrentRequests: 1))
            let running = Task { try await client.execute(HTTPRequest(url: server.baseURL + "/sleep?ms=10000")) }
            try await waitUntil { server.probe.inFlight == 1 }
            let waiting = Task { try await client.execute(HTTPRequest(url: server.baseURL + "/hello")) }
            try await waitUntil { client.load.waiting == 1 }

            client.shutdown()
            for task in [running, waiting] {
                let error = await #expect(throws: HTTPClientError.self) { try await task.value }
                #expect(error?.kind == .cancelled)
            }
            let late = await #expect(throws: HTTPClientError.self) {
                _ = try await client.execute(HTTPRequest(url: server.baseURL + "/hello"))
            }
            #expect(late?.kind == .cancelled)
            client.shutdown()  // idempotent
        }
    }

    /// Polls `condition` every 10 ms for up to 5 s.
    private func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = clock.now + .seconds(5)
        while !condition() {
            guard clock.now < deadline else {
                Issue.record("condition not met within 5 s")
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
