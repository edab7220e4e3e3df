import FakeModelServer
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("Fault injection", .timeLimit(.minutes(3)))
struct FaultInjectionTests {
    @Test("rate_429 0.3 over 200 requests: about 30 % 429 with Retry-After, the same sequence for the same seed")
    func rateLimited() async throws {
        let controls = FakeModelServer.Controls(rate429: 0.3, retryAfterSeconds: 2, seed: 42)
        try await withServer(.init(controls: controls)) { server, target in
            func run() async throws -> [Int] {
                var statuses: [Int] = []
                for index in 0..<200 {
                    let result = try await post(target, "/v1/embeddings", embeddingsBody(["request \(index)"]))
                    if result.status == 429 {
                        #expect(result.headers["retry-after"] == "2")
                        let error = try ErrorReply(result)
                        #expect(error.error.code == "rate_limit_exceeded")
                        #expect(error.error.type == "requests")
                    } else {
                        #expect(result.status == 200)
                    }
                    statuses.append(result.status)
                }
                return statuses
            }
            let first = try await run()
            let limited = first.filter { $0 == 429 }.count
            #expect((40...80).contains(limited), "\(limited) of 200 were 429")
            #expect(server.stats.count(.rateLimited) == limited)
            #expect(server.stats.count(.ok) == 200 - limited)
            #expect(server.stats.embeddingInputs == 200)
            #expect(server.stats.embeddedTexts == 200 - limited)

            // Setting the seed restarts the sequence: the same requests get the same faults.
            #expect(try await post(target, "/control", #"{"seed":42}"#).status == 200)
            let second = try await run()
            #expect(second == first)
        }
    }

    @Test("Retry-After may be 0, or left out")
    func retryAfterValues() async throws {
        try await withServer(.init(controls: .init(rate429: 1, retryAfterSeconds: 0))) { _, target in
            let zero = try await post(target, "/v1/embeddings", embeddingsBody(["x"]))
            #expect(zero.status == 429)
            #expect(zero.headers["retry-after"] == "0")
            #expect(try await post(target, "/control", #"{"retry_after_seconds":null}"#).status == 200)
            let none = try await post(target, "/v1/embeddings", embeddingsBody(["x"]))
            #expect(none.status == 429)
            #expect(none.headers["retry-after"] == nil)
        }
    }

    @Test("rate_500 and rate_503 answer server errors with OpenAI bodies")
    func serverErrors() async throws {
        try await withServer(.init(controls: .init(retryAfterSeconds: 3, rate500: 1))) { server, target in
            let failed = try await post(target, "/v1/chat/completions", chatBody("hello"))
            #expect(failed.status == 500)
            #expect(try ErrorReply(failed).error.type == "server_error")
            #expect(failed.headers["retry-after"] == nil)

            try server.updateControls { $0.rate500 = 0; $0.rate503 = 1 }
            let unavailable = try await post(target, "/v1/embeddings", embeddingsBody(["x"]))
            #expect(unavailable.status == 503)
            #expect(unavailable.headers["retry-after"] == "3")
            #expect(try ErrorReply(unavailable).error.type == "server_error")
            let streamed = try await post(target, "/v1/chat/completions", chatBody("hello", extra: #","stream":true"#))
            #expect(streamed.status == 503)

            #expect(server.stats.count(.internalServerError, on: .chatCompletions) == 1)
            #expect(server.stats.count(.serviceUnavailable) == 2)
        }
    }

    @Test("rate_malformed answers 200 with invalid JSON or JSON missing data/choices")
    func malformed() async throws {
        try await withServer(.init(controls: .init(rateMalformed: 1, malformedMode: .invalidJSON))) { server, target in
            let broken = try await post(target, "/v1/embeddings", embeddingsBody(["x"]))
            #expect(broken.status == 200)
            #expect((try? JSONSerialization.jsonObject(with: Data(broken.body))) == nil)
            let brokenChat = try await post(target, "/v1/chat/completions", chatBody("x"))
            #expect(brokenChat.status == 200)
            #expect((try? JSONSerialization.jsonObject(with: Data(brokenChat.body))) == nil)

            try server.updateControls { $0.malformedMode = .missingField }
            let missingData = try #require(try await post(target, "/v1/embeddings", embeddingsBody(["x"])).jsonObject)
            #expect(missingData["data"] == nil)
            #expect(missingData["object"] as? String == "list")
            let missingChoices = try #require(try await post(target, "/v1/chat/completions", chatBody("x")).jsonObject)
            #expect(missingChoices["choices"] == nil)
            #expect(missingChoices["object"] as? String == "chat.completion")

            let stream = try await post(target, "/v1/chat/completions", chatBody("x", extra: #","stream":true"#))
            #expect(stream.status == 200)
            #expect(stream.events.last?.data == "[DONE]")
            let chunk = try #require(try JSONSerialization.jsonObject(with: Data(stream.events[0].data.utf8)) as? [String: Any])
            #expect(chunk["choices"] == nil)

            #expect(server.stats.count(.malformed) == 5)
            #expect(server.stats.embeddedTexts == 0)
        }
    }

    @Test("mixed malformed mode gives both kinds")
    func mixedMalformed() async throws {
        try await withServer(.init(controls: .init(rateMalformed: 1, malformedMode: .mixed, seed: 7))) { _, target in
            var invalid = 0
            var missing = 0
            for _ in 0..<40 {
                let result = try await post(target, "/v1/embeddings", embeddingsBody(["x"]))
                #expect(result.status == 200)
                if let object = result.jsonObject {
                    #expect(object["data"] == nil)
                    missing += 1
                } else {
                    invalid += 1
                }
            }
            #expect(invalid >= 8 && missing >= 8, "invalid \(invalid), missing \(missing)")
        }
    }

    @Test("a hung request outlasts a 1 s client timeout (raw socket and URLSession)")
    func hang() async throws {
        try await withServer(.init(controls: .init(rateHang: 1, hangSeconds: 20))) { server, target in
            let clock = ContinuousClock()
            let start = clock.now
            await #expect(throws: RawHTTPError.timedOut) {
                _ = try await post(target, "/v1/embeddings", embeddingsBody(["x"]), timeout: .seconds(1))
            }
            let elapsed = clock.now - start
            #expect(elapsed >= .seconds(1) && elapsed < .seconds(15), "the hang lasts 20 s")

            guard case .tcp(let port) = target else { return }
            var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)/v1/chat/completions")))
            request.httpMethod = "POST"
            request.httpBody = Data(chatBody("are you there?").utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.timeoutInterval = 1
            let session = URLSession(configuration: .ephemeral)
            defer { session.invalidateAndCancel() }
            let urlStart = clock.now
            do {
                _ = try await session.data(for: request)
                Issue.record("the hung request was answered within the client timeout")
            } catch let error as URLError {
                #expect(error.code == .timedOut)
            }
            #expect(clock.now - urlStart < .seconds(5))
            // The server may dispatch the second request after the client gave up on it (a loaded machine).
            let deadline = clock.now + .seconds(10)
            while server.stats.count(.hang) < 2 && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(server.stats.count(.hang) == 2)
        }
    }

    @Test("hang_seconds elapses, then the request is answered normally")
    func shortHang() async throws {
        try await withServer(.init(controls: .init(rateHang: 1, hangSeconds: 0.3))) { server, target in
            let clock = ContinuousClock()
            let start = clock.now
            let result = try await post(target, "/v1/embeddings", embeddingsBody(["x"]))
            #expect(clock.now - start >= .milliseconds(300))
            #expect(result.status == 200)
            #expect(try EmbeddingsReply(result).data.count == 1)
            #expect(server.stats.count(.hang) == 1)
            #expect(server.stats.embeddedTexts == 1)
        }
    }

    @Test("fail_on_text refuses inputs and messages containing the substring with its status")
    func failOnText() async throws {
        try await withServer(.init(controls: .init(failOnText: ["POISON": 400, "GONE": 422]))) { server, target in
            #expect(try await post(target, "/v1/embeddings", embeddingsBody(["fine", "also fine"])).status == 200)
            let poisoned = try await post(target, "/v1/embeddings", embeddingsBody(["fine", "has POISON inside"]))
            #expect(poisoned.status == 400)
            let error = try ErrorReply(poisoned)
            #expect(error.error.code == "fail_on_text")
            #expect(error.error.type == "invalid_request_error")
            #expect(error.error.message.contains("POISON"))
            // Permanent: the same input fails every time.
            #expect(try await post(target, "/v1/embeddings", embeddingsBody(["has POISON inside"])).status == 400)
            #expect(try await post(target, "/v1/chat/completions", chatBody("the GONE question")).status == 422)
            #expect(try await post(target, "/v1/chat/completions", chatBody("q", system: "POISON in the prompt")).status == 400)

            let stats = server.stats
            #expect(stats.count(.rejected) == 4)
            #expect(stats.count(.rejected, on: .embeddings) == 2)
            #expect(stats.calls(forText: "has POISON inside") == 2)
            #expect(stats.calls(forText: "fine") == 2)
            #expect(stats.embeddedTexts == 2)
        }
    }

    @Test("latency and jitter delay answers")
    func latency() async throws {
        try await withServer(.init(controls: .init(latencyMilliseconds: 3000, jitterMilliseconds: 100))) { _, target async throws in
            let clock = ContinuousClock()
            for _ in 0..<2 {
                let start = clock.now
                #expect(try await post(target, "/v1/embeddings", embeddingsBody(["x"])).status == 200)
                #expect(clock.now - start >= .milliseconds(3000))
            }
            // Control endpoints are never delayed.
            let start = clock.now
            #expect(try await get(target, "/stats").status == 200)
            #expect(clock.now - start < .milliseconds(2500))
        }
    }

    @Test("fault_endpoints limits faults to the listed endpoints")
    func faultEndpoints() async throws {
        try await withServer(.init(controls: .init(rate503: 1, faultEndpoints: [.chatCompletions]))) { _, target async throws in
            #expect(try await post(target, "/v1/embeddings", embeddingsBody(["x"])).status == 200)
            #expect(try await post(target, "/v1/chat/completions", chatBody("x")).status == 503)
            #expect(try await post(target, "/control", #"{"fault_endpoints":["embeddings"]}"#).status == 200)
            #expect(try await post(target, "/v1/embeddings", embeddingsBody(["x"])).status == 503)
            #expect(try await post(target, "/v1/chat/completions", chatBody("x")).status == 200)
        }
    }
}
