import Logging
import OTel
import ServiceLifecycle
import Tracing

/// Where a worker's spans go: an OpenTelemetry collector over OTLP/HTTP, or nowhere.
public struct TracingConfiguration: Sendable, Equatable {
    /// The wire encodings of OTLP/HTTP.
    public enum WireProtocol: String, Sendable, CaseIterable {
        case protobuf = "http/protobuf"
        case json = "http/json"
    }

    /// The collector's base URL (`…/v1/traces` is appended); nil: no tracer, trace context only passed on.
    public var endpoint: String?
    public var wireProtocol: WireProtocol

    /// Reads `RAG_OTLP_ENDPOINT` and `RAG_OTLP_PROTOCOL`.
    public init(reading reader: inout ConfigurationReader) {
        let endpoint = reader.read(
            .string(
                "RAG_OTLP_ENDPOINT", default: "",
                summary:
                    "OTLP/HTTP base URL of an OpenTelemetry collector (e.g. http://otel-collector:4318): one span per hop is exported to <url>/v1/traces. Empty: no spans; the traceparent header is still passed on. The standard OTEL_* variables (OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, …) also apply.",
                expectation: "empty, or a URL starting with http:// or https://"
            )
            .validated { url throws(ConfigurationValueRejection) in
                if !url.isEmpty && !url.hasPrefix("http://") && !url.hasPrefix("https://") {
                    throw ConfigurationValueRejection("is not an http:// or https:// URL")
                }
            })
        self.endpoint = endpoint.isEmpty ? nil : endpoint
        self.wireProtocol = reader.read(
            .oneOf(
                "RAG_OTLP_PROTOCOL", options: ["http/protobuf": .protobuf, "http/json": .json], default: "http/protobuf",
                summary: "Encoding of the exported spans: http/protobuf or http/json."))
    }
}

/// Installs the OpenTelemetry tracer (swift-otel) as the process's swift-distributed-tracing backend when an
/// endpoint is configured; its service exports the finished spans in batches and flushes them at shutdown.
enum TracingBootstrap {
    /// - Returns: The exporting service to run (it must stop after every service that creates spans), or nil
    ///   when tracing is off.
    static func bootstrap(serviceName: String, configuration: TracingConfiguration) throws -> (any Service)? {
        guard let endpoint = configuration.endpoint else { return nil }
        var otel = OTel.Configuration.default
        otel.serviceName = serviceName
        otel.logs.enabled = false
        otel.metrics.enabled = false
        otel.traces.exporter = .otlp
        otel.traces.otlpExporter.protocol = configuration.wireProtocol == .json ? .httpJSON : .httpProtobuf
        otel.traces.otlpExporter.endpoint = endpoint.hasSuffix("/") ? endpoint + "v1/traces" : endpoint + "/v1/traces"
        otel.traces.batchSpanProcessor.scheduleDelay = .seconds(1)
        otel.diagnosticLogger = .custom(Logger(label: "\(serviceName).otel"))
        otel.diagnosticLogLevel = .warning
        var service: (any Service)?
        try ProcessBootstrap.once(.tracing) {
            let (tracer, exporter) = try OTel.makeTracingBackend(configuration: otel)
            InstrumentationSystem.bootstrap(tracer)
            service = exporter
        }
        return service
    }
}
