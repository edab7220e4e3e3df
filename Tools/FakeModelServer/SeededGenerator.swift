/// SplitMix64: a tiny, fast, well-mixed 64-bit generator. Deterministic for a given seed on every platform,
/// which is all the fake server needs (fault draws, jitter, embedding components). Not for cryptography.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in [0, 1) with 53 bits of precision (exact arithmetic, so identical everywhere).
    mutating func nextUnit() -> Double {
        Double(self.next() >> 11) * 0x1.0p-53
    }
}

/// FNV-1a, 64-bit, over the UTF-8 bytes of the given parts with a 0 byte between them.
/// Used to derive seeds from text; stable across runs and platforms (unlike `Hasher`).
func fnv1a64(_ parts: String...) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for (index, part) in parts.enumerated() {
        if index > 0 {
            // The separator: one 0 byte (XOR with 0 leaves the hash as is, then the FNV multiply).
            hash &*= 0x0000_0100_0000_01B3
        }
        for byte in part.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
    }
    return hash
}
