import Synchronization

/// Where backoff jitter comes from: uniform numbers in [0, 1).
///
/// ``system`` for production; ``seeded(_:)`` for tests, which then see the same delays on every run.
/// `Sendable` and safe to share: the seeded generator's state sits behind a `Mutex`.
public struct JitterSource: Sendable {
    private let draw: @Sendable () -> Double

    /// A source from any closure returning numbers in [0, 1).
    public init(_ draw: @escaping @Sendable () -> Double) {
        self.draw = draw
    }

    /// The system's random number generator.
    public static var system: JitterSource {
        JitterSource { Double.random(in: 0..<1) }
    }

    /// A deterministic source: SplitMix64 from `seed`. Calls from several tasks interleave, so only a
    /// single caller sees a fixed sequence.
    public static func seeded(_ seed: UInt64) -> JitterSource {
        let state = SeededState(seed: seed)
        return JitterSource { state.next() }
    }

    /// The next number in [0, 1).
    public func next() -> Double {
        min(max(draw(), 0), 0x1.fffffffffffffp-1)
    }

    private final class SeededState: Sendable {
        private let state: Mutex<UInt64>

        init(seed: UInt64) {
            state = Mutex(seed)
        }

        func next() -> Double {
            let bits = state.withLock { state -> UInt64 in
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
            return Double(bits >> 11) * 0x1p-53
        }
    }
}
