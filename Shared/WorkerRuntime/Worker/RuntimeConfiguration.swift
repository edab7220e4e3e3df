public import Logging

/// The settings the runtime itself needs in every worker: log level, admin listener, shutdown deadline,
/// where spans go.
public struct RuntimeConfiguration: Sendable, Equatable {
    /// `RAG_LOG_LEVEL`.
    public var logLevel: Logger.Level
    /// The admin endpoints' bind address.
    public var adminHost: String
    /// The admin endpoints' port.
    public var adminPort: Int
    /// `RAG_SHUTDOWN_TIMEOUT`.
    public var shutdownTimeout: Duration
    /// `RAG_OTLP_ENDPOINT`, `RAG_OTLP_PROTOCOL`.
    public var tracing: TracingConfiguration

    /// Reads the runtime variables for a worker whose admin endpoints are set by `listener`.
    public init(reading reader: inout ConfigurationReader, listener: AdminListener) {
        self.logLevel = reader.read(.logLevel)
        self.adminHost = reader.read(listener.host)
        self.adminPort = reader.read(listener.port)
        self.shutdownTimeout = reader.read(.shutdownTimeout)
        self.tracing = TracingConfiguration(reading: &reader)
    }
}
