/// Where ``JSONLogHandler`` writes its lines: standard output in production, a collector in tests.
///
/// The destination receives one complete line at a time, newline included, and must be safe to call from any
/// thread.
public struct LogOutput: Sendable {
    private let writeLine: @Sendable (String) -> Void

    /// Creates an output that hands every line to `writeLine`.
    public init(_ writeLine: @escaping @Sendable (_ line: String) -> Void) {
        self.writeLine = writeLine
    }

    /// Writes one line (which ends in a newline).
    public func write(_ line: String) {
        self.writeLine(line)
    }

    /// The process's standard output, unbuffered: each line goes out in one `write(2)`, under a lock so lines
    /// from different threads never interleave, and is on the pipe before the call returns (so nothing is lost
    /// when the process exits right after logging).
    public static let standardOutput = LogOutput { line in
        FileDescriptorWriter.standardOutput.write(line)
    }
}
