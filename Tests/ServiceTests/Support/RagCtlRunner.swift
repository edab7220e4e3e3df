import Foundation
import TestSupport
import Testing

/// Runs `.build/debug/ragctl` as a user would: a child process with its own small environment. Standard
/// output goes to a file that can be read while the command runs (to see streamed output arrive).
final class RagCtlRunner: @unchecked Sendable {
    static let path = GatewayHarness.repositoryRoot + "/.build/debug/ragctl"

    /// The outcome of a finished command.
    struct Outcome: Sendable, CustomStringConvertible {
        var status: Int32
        var output: String
        var errors: String
        var description: String { "exit \(status)\nstdout:\n\(output)\nstderr:\n\(errors)" }
    }

    /// Runs `ragctl arguments…` to completion.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Outcome {
        try #require(FileManager.default.isExecutableFile(atPath: path), "\(path) is missing: run `swift build` first")
        let result = try await ProcessRunner.run(path, arguments, environment: environment.merging(["PATH": "/usr/bin:/bin"]) { old, _ in old })
        return Outcome(status: result.status, output: result.text, errors: result.errors)
    }

    // MARK: - A running command

    private let process = Process()
    private let outputPath: String
    private let errorPath: String

    /// Starts `ragctl arguments…` without waiting for it.
    init(start arguments: [String], environment: [String: String] = [:], directory: String) throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.path), "\(Self.path) is missing: run `swift build` first")
        let name = UUID().uuidString.prefix(8)
        outputPath = directory + "/ragctl-\(name).out"
        errorPath = directory + "/ragctl-\(name).err"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.path)
        process.arguments = arguments
        process.environment = environment.merging(["PATH": "/usr/bin:/bin"]) { old, _ in old }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    /// What the command has written to standard output so far.
    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    /// Waits (without blocking a thread of the cooperative pool) for the command to exit.
    func finish(timeout: Duration = .seconds(120)) async throws -> Outcome {
        try await eventually("ragctl exits", timeout: timeout) { !self.process.isRunning }
        return Outcome(status: process.terminationStatus, output: output, errors: errors)
    }
}
