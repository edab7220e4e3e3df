public import Hummingbird
import Logging
public import ServiceLifecycle

import Foundation

/// The entry point of a worker executable: configuration → logging and metrics → services → run until
/// SIGTERM/SIGINT → exit.
///
/// A worker's `main.swift` is wiring only:
///
/// ```swift
/// import WorkerRuntime
///
/// await Worker(name: "embedder", configuration: EmbedderConfiguration.self, listener: .admin(defaultPort: 9101))
///     .run { context in
///         [EmbedderService(configuration: context.configuration, logger: context.logger)]
///     }
/// ```
///
/// ``run(services:)``:
/// 1. answers `--help-env` with a Markdown table of every variable the worker reads (and `--help`);
/// 2. reads the worker's ``WorkerConfiguration`` and the ``RuntimeConfiguration``, collecting every problem;
///    on any, prints them to standard error and exits with status 2;
/// 3. installs the JSON log handler (`RAG_LOG_LEVEL`), the Prometheus metrics backend and, when
///    `RAG_OTLP_ENDPOINT` is set, the OpenTelemetry tracer;
/// 4. asks the closure for the worker's services, dependencies first;
/// 5. runs them with the admin server in a ``WorkerServiceGroup`` and logs `started` (with the effective
///    configuration, secrets redacted) once the admin endpoints are listening;
/// 6. exits with status 0 after a clean shutdown, 1 after a failure or an exceeded shutdown deadline.
public struct Worker<Configuration: WorkerConfiguration>: Sendable {
    /// The worker's name: logger label, `worker` field of the `started` line.
    public let name: String
    /// Which variables set the admin endpoints' address, and the default port.
    public let listener: AdminListener

    /// Describes a worker.
    ///
    /// - Parameters:
    ///   - name: The executable's name, such as `embedder`.
    ///   - configuration: The type that reads the worker's own variables.
    ///   - listener: The admin listener variables and default port (SPEC §10).
    public init(name: String, configuration: Configuration.Type = Configuration.self, listener: AdminListener) {
        self.name = name
        self.listener = listener
    }

    /// Runs the worker and exits the process; never returns.
    ///
    /// - Parameter services: Builds the worker's services from the context, dependencies first. Services
    ///   register their readiness checks on `context.health`. A thrown error is logged and the process exits
    ///   with status 1.
    public func run(
        services makeServices: (WorkerContext<Configuration>) async throws -> [any Service]
    ) async -> Never {
        await self.run { context, onListening in
            let admin = AdminServer(
                host: context.runtime.adminHost,
                port: context.runtime.adminPort,
                endpoints: AdminEndpoints(health: context.health, registry: context.metrics),
                logger: Logger(label: "\(self.name).admin"),
                onListening: onListening
            )
            return (serverClients: [], server: admin, services: try await makeServices(context))
        }
    }

    /// Runs a worker that serves its own HTTP API (the gateway) and exits the process; never returns.
    ///
    /// The admin endpoints (`/healthz`, `/readyz`, `/metrics`) share the router the closure adds its routes
    /// to, on the listener's address. The routes' clients start before the server and stop after it (the
    /// server stops accepting requests before, say, its Kafka producer flushes); the other services start
    /// after the server and stop before it.
    ///
    /// - Parameters:
    ///   - requestContext: The request context type of the worker's routes.
    ///   - makeServices: Adds the worker's routes to the router and returns its services.
    public func run<Context: RequestContext>(
        serving requestContext: Context.Type,
        services makeServices: (WorkerContext<Configuration>, Router<Context>) async throws -> ServingWorkerServices
    ) async -> Never where Context.Source == ApplicationRequestContextSource {
        await self.run { context, onListening in
            let router = Router(context: Context.self)
            AdminEndpoints(health: context.health, registry: context.metrics).addRoutes(to: router)
            let served = try await makeServices(context, router)
            let server = Application(
                router: router,
                server: .http1(configuration: .init(idleTimeout: context.configuration.httpIdleTimeout.map { .nanoseconds(Int64($0 / .nanoseconds(1))) })),
                configuration: .init(address: .hostname(context.runtime.adminHost, port: context.runtime.adminPort)),
                onServerRunning: { channel in await onListening(channel.localAddress?.port ?? context.runtime.adminPort) },
                logger: Logger(label: "\(self.name).http")
            )
            return (serverClients: served.clients, server: server, services: served.services)
        }
    }

    /// Steps 1–6 of ``run(services:)``; `makeServer` builds the HTTP server, the clients its routes use
    /// (started before it, stopped after it) and the worker's services.
    private func run(
        makeServer: (WorkerContext<Configuration>, _ onListening: @escaping @Sendable (Int) async -> Void) async throws -> (
            serverClients: [any Service], server: any Service, services: [any Service]
        )
    ) async -> Never {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let exitCode = self.handleArguments(arguments) {
            exit(exitCode)
        }

        let loaded: LoadedConfiguration
        do {
            loaded = try self.readConfiguration(from: ProcessInfo.processInfo.environment)
        } catch {
            FileDescriptorWriter.standardError.write("\(self.name): \(error)\n")
            exit(2)
        }

        JSONLogHandler.bootstrap(level: loaded.runtime.logLevel)
        let metrics = MetricsBootstrap.bootstrap()
        let logger = Logger(label: self.name)
        let spanExporter: (any Service)?
        do {
            spanExporter = try TracingBootstrap.bootstrap(serviceName: self.name, configuration: loaded.runtime.tracing)
        } catch {
            logger.critical("could not set up tracing", metadata: ["error": "\(error)"])
            exit(1)
        }
        for variable in loaded.unrecognizedVariables {
            logger.warning("unrecognized environment variable (typo?)", metadata: ["variable": "\(variable)"])
        }

        let health = HealthMonitor()
        let context = WorkerContext(
            name: self.name,
            configuration: loaded.configuration,
            runtime: loaded.runtime,
            logger: logger,
            health: health,
            metrics: metrics
        )

        let name = self.name
        let effectiveValues = loaded.effectiveValues
        let onListening: @Sendable (Int) async -> Void = { port in
            logger.info(
                "started",
                metadata: [
                    "worker": "\(name)",
                    "http.host": "\(loaded.runtime.adminHost)",
                    "http.port": .stringConvertible(port),
                    "pid": .stringConvertible(ProcessInfo.processInfo.processIdentifier),
                    "config": .dictionary(effectiveValues.mapValues { .string($0) }),
                ]
            )
        }

        let serverClients: [any Service]
        let server: any Service
        let services: [any Service]
        do {
            (serverClients, server, services) = try await makeServer(context, onListening)
        } catch {
            logger.critical("could not create the worker's services", metadata: ["error": "\(error)"])
            exit(1)
        }

        let group = WorkerServiceGroup(
            // The span exporter starts first and stops last, so it flushes every span the others finished.
            serverClients: (spanExporter.map { [$0] } ?? []) + serverClients,
            server: server,
            services: services,
            health: health,
            shutdownTimeout: loaded.runtime.shutdownTimeout,
            handlesSignals: true,
            logger: logger
        )

        do {
            try await group.run()
        } catch {
            logger.critical("stopped after a failure", metadata: ["error": "\(error)"])
            exit(1)
        }
        logger.info("stopped")
        exit(0)
    }

    /// The configuration a worker runs with, after validation.
    public struct LoadedConfiguration: Sendable {
        /// The worker's own settings.
        public var configuration: Configuration
        /// The runtime's settings.
        public var runtime: RuntimeConfiguration
        /// Every variable read and its effective value as it may be logged (secrets redacted).
        public var effectiveValues: [String: String]
        /// `RAG_`-prefixed variables present in the environment that nothing reads.
        public var unrecognizedVariables: [String]
    }

    /// Reads and validates the worker's and the runtime's variables from `environment`.
    ///
    /// - Throws: One ``ConfigurationError`` naming every missing or invalid variable.
    public func readConfiguration(from environment: [String: String]) throws(ConfigurationError) -> LoadedConfiguration {
        var reader = ConfigurationReader(environment: environment)
        let configuration = Configuration(reading: &reader)
        let runtime = RuntimeConfiguration(reading: &reader, listener: self.listener)
        try reader.validate()
        return LoadedConfiguration(
            configuration: configuration,
            runtime: runtime,
            effectiveValues: reader.effectiveValues,
            unrecognizedVariables: reader.unrecognizedVariables
        )
    }

    /// Every variable the worker reads, in reading order: its own first, then the runtime's.
    public var documentedVariables: [DocumentedVariable] {
        var reader = ConfigurationReader(environment: [:])
        _ = Configuration(reading: &reader)
        _ = RuntimeConfiguration(reading: &reader, listener: self.listener)
        return reader.documentation
    }

    /// Handles command-line flags; returns the exit status when the process should stop here.
    private func handleArguments(_ arguments: [String]) -> Int32? {
        guard let first = arguments.first else { return nil }
        switch first {
        case "--help-env":
            FileDescriptorWriter.standardOutput.write(DocumentedVariable.markdownTable(self.documentedVariables))
            return 0
        case "--help", "-h":
            FileDescriptorWriter.standardOutput.write(
                """
                usage: \(self.name) [--help-env]

                Runs the \(self.name) worker, configured by environment variables (prefix \(ConfigurationReader.prefix)).
                Stops gracefully on SIGTERM or SIGINT. Exit status: 0 after a clean shutdown, 1 after a failure,
                2 for invalid configuration or arguments.

                  --help-env   print the environment variables as a Markdown table

                """
            )
            return 0
        default:
            FileDescriptorWriter.standardError.write(
                "\(self.name): unknown argument \"\(first)\"; configuration comes from environment variables (see --help-env)\n"
            )
            return 2
        }
    }
}

/// What a worker that serves its own HTTP API runs besides the server.
public struct ServingWorkerServices: Sendable {
    /// Clients the routes use (a Kafka producer): started before the HTTP server and stopped after it, so
    /// the server stops accepting requests before they shut down.
    public var clients: [any Service]
    /// The worker's other services (what feeds the routes), dependencies first: started after the server,
    /// stopped before it.
    public var services: [any Service]

    /// Describes the services.
    public init(clients: [any Service], services: [any Service]) {
        self.clients = clients
        self.services = services
    }
}
