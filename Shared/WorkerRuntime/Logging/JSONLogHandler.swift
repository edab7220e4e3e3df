public import Logging

import Foundation

/// A swift-log handler that writes one JSON object per line.
///
/// Each line carries, in this order: `timestamp` (ISO-8601, UTC, milliseconds), `level`, `label`, `message`,
/// `source` (the module that logged), `error` when the event has one, then the metadata, flattened: nested
/// dictionaries become dotted keys (`config.RAG_ADMIN_PORT`), arrays stay JSON arrays, booleans and numbers
/// stay JSON booleans and numbers, everything else is a string. Metadata is merged from the handler, the
/// metadata provider and the log call, later ones winning; a metadata key that clashes with a fixed field is
/// written as `metadata.<key>`.
///
/// Install it once per process with ``JSONLogHandler/bootstrap(level:output:)`` (the worker runtime does).
public struct JSONLogHandler: LogHandler {
    /// The fixed fields every line starts with; metadata keys with these names are prefixed with `metadata.`.
    public static let reservedKeys: Set<String> = ["timestamp", "level", "label", "message", "source", "error"]

    /// The logger label, written as `label`.
    public let label: String
    /// Handler-level metadata (what `logger[metadataKey:]` sets).
    public var metadata: Logger.Metadata = [:]
    /// Supplies contextual metadata (for example task-local trace ids) at each log call.
    public var metadataProvider: Logger.MetadataProvider?
    /// The minimum level this handler emits.
    public var logLevel: Logger.Level

    private let output: LogOutput

    /// Creates a handler for one logger.
    ///
    /// - Parameters:
    ///   - label: The logger's label.
    ///   - logLevel: The minimum level to emit.
    ///   - metadataProvider: Optional contextual metadata source.
    ///   - output: Where lines go; standard output by default.
    public init(
        label: String,
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = nil,
        output: LogOutput = .standardOutput
    ) {
        self.label = label
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
        self.output = output
    }

    /// Reads or writes one handler-level metadata entry.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    /// Writes the event as one JSON line.
    public func log(event: LogEvent) {
        var merged = self.metadata
        if let provided = self.metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let metadata = event.metadata {
            merged.merge(metadata) { _, new in new }
        }

        var json = JSONLine()
        json.field("timestamp", string: Self.timestamp(Date()))
        json.field("level", string: event.level.rawValue)
        json.field("label", string: self.label)
        json.field("message", string: event.message.description)
        json.field("source", string: event.source)
        if let error = event.error {
            json.field("error", string: "\(error)")
        }

        var flattened: [(key: String, value: Logger.Metadata.Value)] = []
        Self.flatten(merged, prefix: "", into: &flattened)
        for (key, value) in flattened.sorted(by: { $0.key < $1.key }) {
            let name = Self.reservedKeys.contains(key) ? "metadata.\(key)" : key
            json.field(name) { $0.value(value) }
        }
        self.output.write(json.finish() + "\n")
    }

    private static func flatten(
        _ metadata: Logger.Metadata,
        prefix: String,
        into result: inout [(key: String, value: Logger.Metadata.Value)]
    ) {
        for (key, value) in metadata {
            let name = prefix.isEmpty ? key : "\(prefix).\(key)"
            if case .dictionary(let nested) = value, !nested.isEmpty {
                Self.flatten(nested, prefix: name, into: &result)
            } else {
                result.append((name, value))
            }
        }
    }

    private static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

extension JSONLogHandler {
    /// Installs this handler as the process's logging backend, at `level`, writing to `output`.
    ///
    /// swift-log allows one bootstrap per process; later calls here are ignored (the first one wins), so it is
    /// safe to call from code paths that may run more than once.
    public static func bootstrap(level: Logger.Level, output: LogOutput = .standardOutput) {
        ProcessBootstrap.once(.logging) {
            LoggingSystem.bootstrap({ label, provider in
                JSONLogHandler(label: label, logLevel: level, metadataProvider: provider, output: output)
            }, metadataProvider: nil)
        }
    }
}
