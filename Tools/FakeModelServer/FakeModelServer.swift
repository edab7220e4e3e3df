import Hummingbird
public import Logging
public import ServiceLifecycle

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A real HTTP server speaking the OpenAI-compatible API (`/v1/embeddings`, `/v1/chat/completions` with and
/// without streaming, `/v1/models`), with latency and faults injected on demand — the one simulated dependency
/// the project's tests and benchmarks use.
///
/// Answers are deterministic: embeddings come from ``FakeEmbedding/vector(for:model:dimensions:)``, chat answers
/// from ``Controls/answerTemplate`` or ``Controls/cannedAnswers``. Faults come from a seeded generator, so a test
/// sees the same faults on every run. Besides the model endpoints it serves `GET`/`POST /control` (see
/// ``Controls``), `POST /control/reset`, `GET /stats` and `POST /stats/reset` (see ``Stats``), and `GET /healthz`.
///
/// It is a swift-service-lifecycle `Service`: ``run()`` serves until cancelled or gracefully shut down. In tests,
/// ``withRunningServer(configuration:logger:_:)`` starts one, waits for its sockets and stops it afterwards:
///
/// ```swift
/// try await FakeModelServer.withRunningServer(configuration: .init(controls: .init(rate429: 0.3))) { server, endpoints in
///     let client = MyEmbeddingClient(baseURL: endpoints.baseURL! + "/v1")
///     …
///     #expect(server.stats.calls(forText: "hello") == 1)
/// }
/// ```
/// Or run it in your own task group / `ServiceGroup` and `await server.listening()` for the bound port.
public final class FakeModelServer: Service, Sendable {
    /// What the server was created with.
    public var configuration: Configuration { self.state.configuration }

    private let state: ServerState
    private let logger: Logger
    private let listener = ListeningSignal()

    /// Creates a server; nothing listens until ``run()``.
    ///
    /// - Parameters:
    ///   - configuration: Listening addresses, served models and the start-up controls. Invalid values make
    ///     ``run()`` throw ``InvalidConfiguration``.
    ///   - logger: Logger for the HTTP server; by default only warnings and errors are logged.
    public init(configuration: Configuration = Configuration(), logger: Logger? = nil) {
        self.state = ServerState(configuration: configuration)
        self.logger = logger ?? {
            var logger = Logger(label: "fake-model-server")
            logger.logLevel = .warning
            return logger
        }()
    }

    // MARK: Running

    /// Binds the configured TCP port and/or Unix socket and serves until the task is cancelled or a graceful
    /// shutdown is triggered (requests in flight are finished; hung requests are answered at once). Removes the
    /// Unix socket file when it returns. Call it once.
    ///
    /// - Throws: ``InvalidConfiguration`` for unusable configuration values; binding errors (port in use, bad
    ///   socket path); ``AlreadyStarted`` on a second call.
    public func run() async throws {
        let configuration = self.state.configuration
        guard self.listener.start() else { throw AlreadyStarted() }
        let problems = configuration.problems
        guard problems.isEmpty else {
            let error = InvalidConfiguration(problems: problems)
            self.listener.fail(error)
            throw error
        }

        let router = Router(context: BasicRequestContext.self)
        ModelRoutes(state: self.state).add(to: router)
        let responder = router.buildResponder()

        var addresses: [(BindAddress, ListeningSignal.Part)] = []
        if let port = configuration.port {
            addresses.append((.hostname(configuration.host, port: port), .tcp))
        }
        if let path = configuration.unixSocketPath {
            addresses.append((.unixDomainSocket(path: path), .unixSocket))
        }
        self.listener.expect(Set(addresses.map(\.1)))

        let listener = self.listener
        let applications = addresses.map { address, part in
            Application(
                responder: responder,
                configuration: ApplicationConfiguration(address: address, serverName: "fake-model-server"),
                onServerRunning: { channel in
                    switch part {
                    case .tcp: listener.bound(.tcp, host: configuration.host, port: channel.localAddress?.port ?? configuration.port ?? 0)
                    case .unixSocket: listener.bound(.unixSocket, path: configuration.unixSocketPath)
                    }
                },
                logger: self.logger
            )
        }
        defer {
            if let path = configuration.unixSocketPath {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for application in applications {
                    group.addTask { try await application.run() }
                }
                try await group.waitForAll()
            }
            self.listener.fail(Stopped())
        } catch {
            self.listener.fail(error)
            throw error
        }
    }

    /// Waits until every configured listener is bound and returns where the server can be reached.
    ///
    /// - Throws: the error ``run()`` failed with, ``Stopped`` if it ended first, or `CancellationError`.
    public func listening() async throws -> Endpoints {
        try await self.listener.wait()
    }

    /// Creates a server, runs it while `body` runs, and stops it gracefully when `body` returns or throws.
    ///
    /// The server runs in a `ServiceGroup` of its own (without signal handlers). Stopping it lets requests in
    /// flight finish — hung requests, latency and streaming pauses are cut short — and escalates to cancellation
    /// after two seconds.
    ///
    /// - Parameters:
    ///   - configuration: The server's configuration.
    ///   - logger: Logger for the HTTP server (warnings and errors only by default).
    ///   - body: Gets the running server and its bound endpoints.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws, or why the server could not start.
    public static func withRunningServer<Result>(
        configuration: Configuration = Configuration(),
        logger: Logger? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (FakeModelServer, Endpoints) async throws -> Result
    ) async throws -> Result {
        let server = FakeModelServer(configuration: configuration, logger: logger)
        var groupConfiguration = ServiceGroupConfiguration(services: [.init(service: server)], logger: server.logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(2)
        let group = ServiceGroup(configuration: groupConfiguration)
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { tasks in
            tasks.addTask { try await group.run() }
            let result: Swift.Result<Result, any Error>
            do {
                let endpoints = try await server.listening()
                result = .success(try await body(server, endpoints))
            } catch {
                result = .failure(error)
            }
            await group.triggerGracefulShutdown()
            // A failure to stop matters only when `body` succeeded.
            do {
                try await tasks.waitForAll()
            } catch {
                if case .success = result { throw error }
            }
            return try result.get()
        }
    }

    // MARK: Controls and stats, in process

    /// The controls in force now.
    public var controls: Controls {
        self.state.controls
    }

    /// Changes the controls atomically (as `POST /control` does) and returns the new ones. A changed seed restarts
    /// the fault sequence.
    ///
    /// - Throws: ``InvalidControls`` (and nothing changes) if the result is invalid, or what `change` throws.
    @discardableResult
    public func updateControls(_ change: (inout Controls) throws -> Void) throws -> Controls {
        try self.state.updateControls(change)
    }

    /// Restores the start-up controls and restarts the fault sequence from their seed.
    public func resetControls() {
        // The start-up controls were validated when the server started (or are validated here for a server
        // that never ran); invalid ones are left as they are.
        try? self.state.setControls(self.state.configuration.controls, reseed: true)
    }

    /// A snapshot of the counters.
    public var stats: Stats {
        self.state.stats
    }

    /// Model requests (embeddings, chat completions) being handled right now, from arrival until the answer is
    /// written; the peak is ``Stats/peakConcurrentRequests``.
    public var requestsInFlight: Int {
        self.state.requestsInFlight
    }

    /// Zeroes the counters.
    public func resetStats() {
        self.state.resetStats()
    }

    // MARK: Errors

    /// The configuration cannot be served; `problems` lists why.
    public struct InvalidConfiguration: Error, CustomStringConvertible {
        /// One sentence per problem.
        public var problems: [String]
        public var description: String { "invalid fake model server configuration: " + self.problems.joined(separator: "; ") }
    }

    /// The controls were refused; `problems` lists why.
    public struct InvalidControls: Error, CustomStringConvertible {
        /// One sentence per problem.
        public var problems: [String]
        public var description: String { "invalid fake model server controls: " + self.problems.joined(separator: "; ") }
    }

    /// ``run()`` was called a second time.
    public struct AlreadyStarted: Error, CustomStringConvertible {
        public var description: String { "the fake model server was already started" }
    }

    /// The server stopped before it was listening.
    public struct Stopped: Error, CustomStringConvertible {
        public var description: String { "the fake model server has stopped" }
    }
}
