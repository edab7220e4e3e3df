import FakeModelServer
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Listening: TCP, Unix socket, executable", .timeLimit(.minutes(2)))
struct ListeningTests {
    /// A short socket path (sun_path holds 108 bytes).
    private static func socketPath() -> String {
        "/tmp/fms-\(UUID().uuidString.prefix(8)).sock"
    }

    @Test("serves the same API on a Unix domain socket, and removes the socket file when stopped")
    func unixSocket() async throws {
        let path = Self.socketPath()
        try await FakeModelServer.withRunningServer(configuration: .init(port: nil, unixSocketPath: path)) { server, endpoints in
            #expect(endpoints.unixSocketPath == path)
            #expect(endpoints.port == nil)
            #expect(endpoints.baseURL == nil)
            let target = HTTPTarget.unix(path: path)
            let result = try await post(target, "/v1/embeddings", embeddingsBody(["over the socket"]))
            #expect(result.status == 200)
            #expect(try EmbeddingsReply(result).data[0].embedding == FakeEmbedding.vector(for: "over the socket", model: "fake-embedding"))
            let stream = try await post(target, "/v1/chat/completions", chatBody("sidecar?", extra: #","stream":true"#))
            #expect(stream.events.last?.data == "[DONE]")
            #expect(try await get(target, "/healthz").status == 200)
            #expect(server.stats.calls(forText: "over the socket") == 1)
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("TCP and a Unix socket at once share controls and counters")
    func both() async throws {
        let path = Self.socketPath()
        try await FakeModelServer.withRunningServer(configuration: .init(unixSocketPath: path)) { server, endpoints in
            let port = try #require(endpoints.port)
            #expect(port > 0)
            #expect(endpoints.baseURL == "http://127.0.0.1:\(port)")
            #expect(try await post(.tcp(port: port), "/control", #"{"rate_503":1}"#).status == 200)
            #expect(try await post(.unix(path: path), "/v1/embeddings", embeddingsBody(["x"])).status == 503)
            #expect(try await post(.tcp(port: port), "/v1/embeddings", embeddingsBody(["x"])).status == 503)
            #expect(server.stats.calls(forText: "x") == 2)
        }
    }

    @Test("run() fails for a port in use or an unusable configuration, and listening() reports it")
    func failures() async throws {
        try await withServer { _, target in
            guard case .tcp(let port) = target else { return }
            let second = FakeModelServer(configuration: .init(port: port))
            await #expect(throws: (any Error).self) { try await second.run() }
            await #expect(throws: (any Error).self) { _ = try await second.listening() }
        }
        let nowhere = FakeModelServer(configuration: .init(port: nil, unixSocketPath: nil))
        await #expect(throws: FakeModelServer.InvalidConfiguration.self) { try await nowhere.run() }
        let badControls = FakeModelServer(configuration: .init(controls: .init(rate429: 2)))
        await #expect(throws: FakeModelServer.InvalidConfiguration.self) { try await badControls.run() }
    }

    @Test("a server in a task group stops on cancellation; listening() gives its port first")
    func taskGroup() async throws {
        let server = FakeModelServer()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let endpoints = try await server.listening()
            let port = try #require(endpoints.port)
            #expect(try await get(.tcp(port: port), "/healthz").status == 200)
            group.cancelAll()
        }
        await #expect(throws: (any Error).self) { _ = try await server.listening() }
    }

    @Test("the fake-model-server executable prints its address, applies its flags and stops on SIGTERM")
    func executable() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let executable = root.appendingPathComponent(".build/debug/fake-model-server")
        try #require(
            FileManager.default.isExecutableFile(atPath: executable.path),
            "\(executable.path) is missing: build it (`swift build --product fake-model-server`)"
        )
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("fake-model-server-\(UUID().uuidString).out")
        let errors = output.appendingPathExtension("err")
        try #require(FileManager.default.createFile(atPath: output.path, contents: nil))
        try #require(FileManager.default.createFile(atPath: errors.path, contents: nil))
        defer {
            try? FileManager.default.removeItem(at: output)
            try? FileManager.default.removeItem(at: errors)
        }
        let path = Self.socketPath()

        let process = Process()
        process.executableURL = executable
        process.arguments = [
            "--port", "0", "--unix-socket", path, "--rate-503", "1", "--retry-after", "0",
            "--fail-on-text", "POISON=400", "--log-level", "warning",
        ]
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        var text = ""
        while !(text.contains("listening on http://") && text.contains("listening on unix:")) {
            try #require(process.isRunning, "exited: \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
            try #require(clock.now < deadline, "no listening line; output: \(text)")
            try await Task.sleep(for: .milliseconds(50))
            text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        }
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("listening on http://127.0.0.1:") })
        let port = try #require(Int(line.split(separator: ":").last ?? ""))
        #expect(text.contains("listening on unix:\(path)"))

        let unavailable = try await post(.tcp(port: port), "/v1/embeddings", embeddingsBody(["x"]))
        #expect(unavailable.status == 503)
        #expect(unavailable.headers["retry-after"] == "0")
        #expect(try await post(.unix(path: path), "/v1/embeddings", embeddingsBody(["POISON"])).status == 400)

        kill(process.processIdentifier, SIGTERM)
        let stopDeadline = clock.now + .seconds(10)
        while process.isRunning && clock.now < stopDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!process.isRunning)
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
