public import Tracing

/// W3C trace context in Kafka headers (`traceparent`, `tracestate`), so one query can be followed from the
/// gateway's request through every worker (SPEC §3).
///
/// The instrument is whatever the process bootstrapped (`InstrumentationSystem`): the OpenTelemetry tracer
/// when an OTLP endpoint is configured, otherwise none — and then a record's trace context is passed on as
/// it came, so downstream tracing still joins the trace.
extension Array where Element == KafkaHeader {
    /// The names of the trace-context headers.
    public static let traceContextNames: Set<String> = ["traceparent", "tracestate"]

    /// The trace context these headers carry, to parent a span on (`withSpan(_:context:ofKind:)`).
    public var traceContext: ServiceContext {
        var context = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(self, into: &context, using: KafkaHeaderExtractor())
        return context
    }

    /// These headers with their trace context replaced by the current span's (`ServiceContext.current`), so
    /// that whoever reads the record continues from that span; unchanged when no tracer is bootstrapped.
    public func continuingCurrentSpan() -> [KafkaHeader] {
        guard let current = ServiceContext.current else { return self }
        var injected: [KafkaHeader] = []
        InstrumentationSystem.instrument.inject(current, into: &injected, using: KafkaHeaderInjector())
        guard injected.contains(where: { $0.name == "traceparent" }) else { return self }
        return removing(Self.traceContextNames) + injected
    }
}

/// Reads a trace-context field from Kafka headers.
public struct KafkaHeaderExtractor: Extractor {
    public init() {}

    public func extract(key: String, from carrier: [KafkaHeader]) -> String? {
        carrier.value(key)
    }
}

/// Writes a trace-context field into Kafka headers (replacing one of the same name).
public struct KafkaHeaderInjector: Injector {
    public init() {}

    public func inject(_ value: String, forKey key: String, into carrier: inout [KafkaHeader]) {
        carrier.removeAll { $0.name == key }
        carrier.append(KafkaHeader(key, value))
    }
}
