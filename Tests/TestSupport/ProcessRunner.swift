public import Foundation

/// Runs a command to completion for a test without blocking Swift's cooperative thread pool.
///
/// Swift Testing runs tests in parallel on that pool, which has one thread per core (two here). A test
/// that waits for a child process with `waitUntilExit` or a blocking pipe read holds one of them for as
/// long as the child runs — seconds for `initdb` or a Python start — and stalls every other test,
/// including timing-sensitive ones. ``run(_:_:environment:currentDirectory:input:)`` does the waiting on a
/// thread of its own.
public enum ProcessRunner {
    /// How a command ended.
    public struct Result: Sendable {
        /// The exit status (128 + the signal number when a signal ended it).
        public let status: Int32
        /// Everything the command wrote to standard output.
        public let output: Data
        /// Everything the command wrote to standard error.
        public let errors: String

        /// Standard output as UTF-8 text.
        public var text: String { String(decoding: output, as: UTF8.self) }
    }

    /// Runs `executable` (a path, or a name looked up on `PATH`) with `arguments` and waits for it to exit.
    /// - Parameters:
    ///   - environment: The child's whole environment; `nil` inherits the test process's.
    ///   - currentDirectory: The child's working directory; `nil` keeps the test process's.
    ///   - input: Written to the child's standard input, which is then closed; `nil` gives it none.
    /// - Throws: When the command cannot be started.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        currentDirectory: String? = nil,
        input: Data? = nil
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Swift.Result(catching: {
                    try runBlocking(executable, arguments, environment: environment, currentDirectory: currentDirectory, input: input)
                }))
            }
        }
    }

    private static func runBlocking(
        _ executable: String, _ arguments: [String], environment: [String: String]?, currentDirectory: String?, input: Data?
    ) throws -> Result {
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }

        // Standard error goes to a file, so a chatty child never blocks on a pipe nobody is reading.
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("process-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let errorHandle = try FileHandle(forWritingTo: errorFile)
        defer { try? errorHandle.close() }
        process.standardError = errorHandle
        let output = Pipe()
        process.standardOutput = output
        let inputPipe = input.map { _ in Pipe() }
        process.standardInput = inputPipe ?? FileHandle.nullDevice

        try process.run()
        if let input, let inputPipe {
            // From another thread: the child may fill its output pipe before it has read all its input.
            let writer = inputPipe.fileHandleForWriting
            Thread.detachNewThread {
                try? writer.write(contentsOf: input)
                try? writer.close()
            }
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errors = String(decoding: FileManager.default.contents(atPath: errorFile.path) ?? Data(), as: UTF8.self)
        let status = process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
        return Result(status: status, output: data, errors: errors)
    }
}
