/// One Kafka record header. Names may repeat; order is kept. SPEC §3 headers are UTF-8 strings.
public struct KafkaHeader: Sendable, Hashable {
    public var name: String
    public var value: [UInt8]?

    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }

    public init(_ name: String, _ value: String) {
        self.init(name: name, value: Array(value.utf8))
    }

    /// The value decoded as UTF-8, or nil when absent or not valid UTF-8.
    public var stringValue: String? {
        value.flatMap { String(validating: $0, as: UTF8.self) }
    }
}

extension Array where Element == KafkaHeader {
    /// The last value of the header called `name`, as a string (later headers win, as in Kafka clients).
    public func value(_ name: String) -> String? {
        last { $0.name == name }?.stringValue
    }

    /// A copy without any header named in `names`.
    public func removing(_ names: Set<String>) -> [KafkaHeader] {
        filter { !names.contains($0.name) }
    }
}
