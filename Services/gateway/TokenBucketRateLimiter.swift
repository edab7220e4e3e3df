import Foundation
import Synchronization

/// Per-caller token buckets (SPEC §5: 429 with Retry-After, sized by tier), keyed by `CallerID` (tenant
/// and user as separate fields, so no two callers share a bucket).
///
/// Each user's bucket holds up to `burst` tokens and refills at `perSecond`; a request takes one token.
/// Buckets live in this gateway instance's memory: with N instances behind a load balancer, a user's
/// effective limit is up to N times the configured one. Full, idle buckets are dropped to bound memory.
final class TokenBucketRateLimiter: Sendable {
    struct Limit: Sendable, Equatable {
        var perSecond: Double
        var burst: Double
    }

    enum Decision: Equatable {
        case allowed
        /// Try again after this many whole seconds (at least 1).
        case limited(retryAfterSeconds: Int)
    }

    private struct Bucket {
        var tokens: Double
        var updatedAt: Double
    }

    private let buckets = Mutex<[CallerID: Bucket]>([:])
    private let maxBuckets: Int
    private let now: @Sendable () -> Double

    init(maxBuckets: Int = 100_000, now: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime }) {
        self.maxBuckets = maxBuckets
        self.now = now
    }

    /// Takes a token from `caller`'s bucket, sized by `limit`.
    func acquire(_ caller: CallerID, limit: Limit) -> Decision {
        let time = now()
        return buckets.withLock { buckets in
            var bucket = buckets[caller] ?? Bucket(tokens: limit.burst, updatedAt: time)
            bucket.tokens = min(limit.burst, bucket.tokens + (time - bucket.updatedAt) * limit.perSecond)
            bucket.updatedAt = time
            defer {
                buckets[caller] = bucket
                if buckets.count > maxBuckets { Self.dropIdle(&buckets, at: time, limit: limit) }
            }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return .allowed
            }
            let wait = (1 - bucket.tokens) / max(limit.perSecond, 0.000_001)
            return .limited(retryAfterSeconds: max(1, Int(wait.rounded(.up))))
        }
    }

    /// Drops buckets that would be full by now: forgetting them changes nobody's limit.
    private static func dropIdle(_ buckets: inout [CallerID: Bucket], at time: Double, limit: Limit) {
        buckets = buckets.filter { _, bucket in
            bucket.tokens + (time - bucket.updatedAt) * limit.perSecond < limit.burst
        }
    }
}

extension TokenBucketRateLimiter {
    /// Requests per second / burst, per tier (`RAG_GATEWAY_RATE_LIMITS`).
    static let defaultLimits: [String: Limit] = [
        "free": Limit(perSecond: 1, burst: 5),
        "standard": Limit(perSecond: 5, burst: 20),
        "enterprise": Limit(perSecond: 20, burst: 50),
    ]

    /// Parses `tier=rate/burst;…`; nil when malformed.
    static func parseLimits(_ text: String) -> [String: Limit]? {
        var limits: [String: Limit] = [:]
        for entry in text.split(separator: ";") {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            let numbers = parts[1].split(separator: "/").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard numbers.count == 2, numbers[0] > 0, numbers[1] >= 1 else { return nil }
            limits[parts[0].trimmingCharacters(in: .whitespaces)] = Limit(perSecond: numbers[0], burst: numbers[1])
        }
        return limits.isEmpty ? nil : limits
    }
}
