import ModelClients
import Synchronization
import Testing

@Suite("ClientRateLimiter", .timeLimit(.minutes(1)))
struct ClientRateLimiterTests {
    @Test("reservations: a burst goes through, then calls are spaced at the rate (explicit clock)")
    func reservationsSpaceCalls() {
        // 60/min = 1/s, bursts of up to 3.
        let limiter = ClientRateLimiter(requestsPerMinute: 60, burst: .seconds(3))
        let t0 = ContinuousClock.now
        #expect(limiter.reserve(tokens: 0, now: t0) == .zero)
        #expect(limiter.reserve(tokens: 0, now: t0) == .zero)
        #expect(limiter.reserve(tokens: 0, now: t0) == .zero)
        #expect(abs(limiter.reserve(tokens: 0, now: t0).seconds - 1) < 1e-6)
        #expect(abs(limiter.reserve(tokens: 0, now: t0).seconds - 2) < 1e-6)
        // Two seconds later the debt is repaid: the next waits one interval.
        #expect(abs(limiter.reserve(tokens: 0, now: t0 + .seconds(2)).seconds - 1) < 1e-6)
        // A cancelled booking is given back.
        limiter.cancelReservation(tokens: 0)
        #expect(abs(limiter.reserve(tokens: 0, now: t0 + .seconds(2)).seconds - 1) < 1e-6)
    }

    @Test("tokens: a call larger than the bucket waits for it instead of failing")
    func tokenBudget() {
        // 6000 tokens/min = 100/s; bucket of 100.
        let limiter = ClientRateLimiter(tokensPerMinute: 6000, burst: .seconds(1))
        let t0 = ContinuousClock.now
        #expect(limiter.reserve(tokens: 100, now: t0) == .zero)
        #expect(abs(limiter.reserve(tokens: 250, now: t0).seconds - 2.5) < 1e-6)
        #expect(abs(limiter.reserve(tokens: 50, now: t0 + .seconds(1)).seconds - 2.0) < 1e-6)
    }

    @Test("both limits: the longer wait wins; no limits never wait")
    func bothLimits() {
        let t0 = ContinuousClock.now
        let limiter = ClientRateLimiter(requestsPerMinute: 600, tokensPerMinute: 600, burst: .zero)
        #expect(limiter.reserve(tokens: 1, now: t0) == .zero)
        // Requests: 1 more at 10/s → 0.1 s; tokens: 20 more at 10/s → 2 s.
        #expect(abs(limiter.reserve(tokens: 20, now: t0).seconds - 2.0) < 1e-6)
        let unlimited = ClientRateLimiter(requestsPerMinute: 0, tokensPerMinute: nil)
        for _ in 0..<1000 { #expect(unlimited.reserve(tokens: 1_000_000, now: t0) == .zero) }
    }

    @Test("acquire waits in real time: 6 calls at 10/s take at least 0.5 s")
    func acquireSpacesCalls() async throws {
        let limiter = ClientRateLimiter(requestsPerMinute: 600, burst: .zero)
        let start = ContinuousClock.now
        var waited: [Duration] = []
        for _ in 0..<6 {
            waited.append(try await limiter.acquire())
        }
        let elapsed = ContinuousClock.now - start
        #expect(waited[0] == .zero)
        // A caller that wakes late finds the next slot already due, so not every call waits; but
        // the calls as a whole cannot go faster than the rate.
        #expect(waited.contains { $0 > .zero })
        #expect(elapsed >= .milliseconds(480))
    }

    @Test("concurrent callers are spread out, none refused")
    func concurrentCallers() async throws {
        let limiter = ClientRateLimiter(requestsPerMinute: 1200, tokensPerMinute: 60_000, burst: .zero)  // 20/s, 1000 tokens/s
        let start = ContinuousClock.now
        let finishes = try await withThrowingTaskGroup(of: Duration.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await limiter.acquire(tokens: 10)
                    return ContinuousClock.now - start
                }
            }
            return try await group.reduce(into: [Duration]()) { $0.append($1) }.sorted()
        }
        #expect(finishes.count == 8)
        // Request-bound: the 8th goes 7 intervals of 50 ms after the first.
        #expect(finishes.last! >= .milliseconds(340))
    }

    @Test("a caller cancelled while waiting throws and gives its booking back")
    func cancellation() async throws {
        let limiter = ClientRateLimiter(requestsPerMinute: 1, burst: .zero)  // one per 60 s
        try await limiter.acquire()
        let task = Task { try await limiter.acquire() }
        try await Task.sleep(for: .milliseconds(50))
        let start = ContinuousClock.now
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(ContinuousClock.now - start < .seconds(30), "cancellation must end the 60 s wait early")
        // The refund means the next caller waits one interval (≤ 60 s), not two (≈ 120 s).
        let wait = limiter.reserve(tokens: 0)
        #expect(wait <= .seconds(60))
        #expect(wait > .seconds(30))
    }

    @Test("token estimate: UTF-8 bytes / 4, rounded up, at least 1 per text")
    func tokenEstimate() {
        #expect(ClientRateLimiter.estimatedTokens(for: "") == 1)
        #expect(ClientRateLimiter.estimatedTokens(for: "abcd") == 1)
        #expect(ClientRateLimiter.estimatedTokens(for: "abcde") == 2)
        #expect(ClientRateLimiter.estimatedTokens(for: "東京") == 2)  // 6 bytes
        #expect(ClientRateLimiter.estimatedTokens(for: ["abcd", "abcdefgh", ""]) == 4)
    }
}
