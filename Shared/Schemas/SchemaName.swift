/// The message types with a JSON Schema in this module: request bodies of the gateway's HTTP API and
/// values of the Kafka topics (SPEC §3, §5). The raw value is the versioned schema name, which is also
/// the file name (without `.json`) and the last path segment of the schema's `$id`.
public enum SchemaName: String, CaseIterable, Sendable {
    /// Body of `POST /chunks`, single form.
    case chunkRequest = "chunk-request.v1"
    /// Body of `POST /chunks`, batch form `{"chunks": [...]}`.
    case chunkBatchRequest = "chunk-batch-request.v1"
    /// Body of `POST /queries`.
    case queryRequest = "query-request.v1"
    /// Value of `rag.chunks`.
    case chunkEvent = "chunk-event.v1"
    /// Value of `rag.queries`.
    case queryEvent = "query-event.v1"
    /// Value of `rag.context`.
    case contextEvent = "context-event.v1"
    /// Value of `rag.answer-deltas`.
    case deltaEvent = "delta-event.v1"
    /// Value of `rag.results`.
    case resultEvent = "result-event.v1"
    /// Value of `rag.index-events`.
    case indexEvent = "index-event.v1"
    /// Value of `rag.human-review`.
    case reviewItem = "review-item.v1"

    /// The base of every bundled schema's `$id`.
    public static let idBase = "https://schemas.kafka-rag.example/"

    /// The schema's file name in the bundle, e.g. `chunk-event.v1.json`.
    public var fileName: String { rawValue + ".json" }

    /// The schema's `$id`, e.g. `https://schemas.kafka-rag.example/chunk-event.v1.json`.
    public var id: String { Self.idBase + fileName }

    /// The message type without its version, e.g. `chunk-event`.
    public var messageType: String {
        String(rawValue[..<versionDot])
    }

    /// The schema's version, e.g. `1`: the value of the `schema-version` Kafka header.
    public var version: String {
        String(rawValue[versionDot...].dropFirst(2))  // drop ".v"
    }

    /// Every raw value ends in `.v<digits>`; this is the index of that dot.
    private var versionDot: String.Index {
        rawValue.lastIndex(of: ".")!
    }
}
