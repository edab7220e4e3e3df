/// A worker's own settings, read from the environment.
///
/// The initializer is the single place the worker declares its variables: read each one with
/// ``ConfigurationReader/read(_:)`` — the standard ones (``ConfigurationVariable/kafkaBootstrapServers``,
/// ``ConfigurationVariable/databaseURL``, …) or worker-specific ones declared inline with a summary and default.
/// Read every variable unconditionally: reading against an empty environment is how `--help-env` documents
/// them. Values are only used after the runtime has validated the reader, so the initializer never throws.
///
/// ```swift
/// struct EmbedderConfiguration: WorkerConfiguration {
///     var kafkaBootstrapServers: [String]
///     var batchSize: Int
///
///     init(reading reader: inout ConfigurationReader) {
///         self.kafkaBootstrapServers = reader.read(.kafkaBootstrapServers)
///         self.batchSize = reader.read(
///             .integer("RAG_EMBEDDER_BATCH_SIZE", default: 32, range: 1...1024, summary: "Chunks embedded per model call.")
///         )
///     }
/// }
/// ```
public protocol WorkerConfiguration: Sendable {
    /// Reads every variable of the worker from `reader`.
    init(reading reader: inout ConfigurationReader)

    /// For a worker that serves its own HTTP API (``Worker/run(serving:services:)``): how long a connection
    /// may send nothing while idle or in the middle of a request before the server closes it; nil (the
    /// default) never closes idle connections.
    var httpIdleTimeout: Duration? { get }
}

extension WorkerConfiguration {
    public var httpIdleTimeout: Duration? { nil }
}
