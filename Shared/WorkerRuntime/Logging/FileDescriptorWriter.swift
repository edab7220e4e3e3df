import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes whole strings to a file descriptor with `write(2)`, retrying short writes and `EINTR`,
/// serialised by a lock.
final class FileDescriptorWriter: Sendable {
    static let standardOutput = FileDescriptorWriter(descriptor: 1)
    static let standardError = FileDescriptorWriter(descriptor: 2)

    private let descriptor: Int32
    private let lock = Mutex(())

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    func write(_ text: String) {
        var bytes = Array(text.utf8)
        self.lock.withLock { _ in
            bytes.withUnsafeMutableBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Self.systemWrite(self.descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return  // a closed or broken stream: nothing sensible left to do with a log line
                    }
                }
            }
        }
    }

    private static func systemWrite(_ descriptor: Int32, _ pointer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.write(descriptor, pointer, count)
        #elseif canImport(Musl)
        Musl.write(descriptor, pointer, count)
        #else
        Darwin.write(descriptor, pointer, count)
        #endif
    }
}
