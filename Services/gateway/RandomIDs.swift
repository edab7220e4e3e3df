#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Random ids for every request (query ids, request ids, span and trace ids) without a system call or
/// Foundation formatting per id: bytes come from the kernel's CSPRNG (glibc's `arc4random_buf`, i.e. `getrandom`) 4 KiB at a time into
/// a pool behind a lock, and are formatted as lower-case hex with a lookup table.
enum RandomIDs {
    private struct Pool: ~Copyable {
        static let size = 4096
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: Pool.size, alignment: 8)
        var position = Pool.size

        /// 16 random bytes, never handed out before.
        mutating func take16() -> (UInt64, UInt64) {
            if position + 16 > Pool.size {
                RandomIDs.fill(bytes)
                position = 0
            }
            let value = (bytes.load(fromByteOffset: position, as: UInt64.self), bytes.load(fromByteOffset: position + 8, as: UInt64.self))
            // Used bytes are overwritten so that they never exist twice in memory.
            bytes.storeBytes(of: 0, toByteOffset: position, as: UInt64.self)
            bytes.storeBytes(of: 0, toByteOffset: position + 8, as: UInt64.self)
            position += 16
            return value
        }

        deinit { bytes.deallocate() }
    }

    private static let pool = Mutex(Pool())

    private static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        #if canImport(Glibc)
        arc4random_buf(buffer.baseAddress!, buffer.count)  // glibc: getrandom(2), one call per fill
        #else
        var generator = SystemRandomNumberGenerator()
        for index in buffer.indices { buffer[index] = UInt8.random(in: .min ... .max, using: &generator) }
        #endif
    }

    /// 128 random bits.
    static func next128() -> (UInt64, UInt64) {
        pool.withLock { $0.take16() }
    }

    /// 64 random bits.
    static func next() -> UInt64 { next128().0 }

    /// A random (version 4) UUID in lower case, `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
    static func uuid() -> String {
        var raw = next128()
        return withUnsafeMutableBytes(of: &raw) { random in
            random[6] = random[6] & 0x0F | 0x40  // version 4
            random[8] = random[8] & 0x3F | 0x80  // RFC 4122 variant
            return String(unsafeUninitializedCapacity: 36) { text in
                var out = 0
                for index in 0..<16 {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        text[out] = UInt8(ascii: "-")
                        out += 1
                    }
                    writeHex(random[index], to: text, at: out)
                    out += 2
                }
                return out
            }
        }
    }

    /// Writes `byte` as two lower-case hex digits at `offset`.
    @inline(__always)
    static func writeHex(_ byte: UInt8, to text: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        text[offset] = hexDigits[Int(byte >> 4)]
        text[offset + 1] = hexDigits[Int(byte & 0x0F)]
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

/// A `RandomNumberGenerator` over `RandomIDs`' pool (for W3CTraceContext's `TraceID.random(using:)`).
struct PooledRandomNumberGenerator: RandomNumberGenerator {
    mutating func next() -> UInt64 { RandomIDs.next() }
}
