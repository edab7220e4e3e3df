import Foundation
import Testing

/// A built worker executable run as a child process, with its standard output and error captured in files.
final class WorkerProcess {
    /// The repository root, found from this file's path (`Tests/WorkerRuntimeTests/WorkerProcess.swift`).
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()

    let process = Process()
    private let standardOutput: URL
    private let standardError: URL

    /// Starts `.build/debug/<product>` with exactly `environment` (nothing inherited).
    init(product: String, environment: [String: String], arguments: [String] = []) throws {
        let executable = Self.repositoryRoot.appendingPathComponent(".build/debug/\(product)")
        try #require(
            FileManager.default.isExecutableFile(atPath: executable.path),
            "\(executable.path) does not exist: build it first (`swift build --product \(product)`, or `make test`)"
        )
        let directory = FileManager.default.temporaryDirectory
        let id = UUID().uuidString
        self.standardOutput = directory.appendingPathComponent("\(product)-\(id).out")
        self.standardError = directory.appendingPathComponent("\(product)-\(id).err")
        try #require(FileManager.default.createFile(atPath: self.standardOutput.path, contents: nil))
        try #require(FileManager.default.createFile(atPath: self.standardError.path, contents: nil))

        self.process.executableURL = executable
        self.process.arguments = arguments
        self.process.environment = environment
        self.process.standardOutput = try FileHandle(forWritingTo: self.standardOutput)
        self.process.standardError = try FileHandle(forWritingTo: self.standardError)
        try self.process.run()
    }

    deinit {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
        }
        try? FileManager.default.removeItem(at: self.standardOutput)
        try? FileManager.default.removeItem(at: self.standardError)
    }

    var output: String { (try? String(contentsOf: self.standardOutput, encoding: .utf8)) ?? "" }
    var errorOutput: String { (try? String(contentsOf: self.standardError, encoding: .utf8)) ?? "" }

    /// Sends `signal` to the process.
    func send(_ signal: Int32) {
        kill(self.process.processIdentifier, signal)
    }

    /// Waits for the process to exit; returns its exit status, or `nil` if it is still running after `timeout`.
    func waitForExit(timeout: Duration) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while self.process.isRunning {
            if ContinuousClock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
        return self.process.terminationReason == .exit ? self.process.terminationStatus : 128 + self.process.terminationStatus
    }
}
