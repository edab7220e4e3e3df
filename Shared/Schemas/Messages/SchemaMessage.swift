import Foundation

/// A message with a JSON Schema of its own (SPEC §3): one `Codable` type per Kafka message value, used by
/// the side that produces it and the side that consumes it, so its shape is written down once.
///
/// `encoded()` gives the JSON bytes of a record value; `decode(_:schemas:)` parses bytes, validates them
/// against the type's bundled schema and decodes them — a value that breaks the schema is rejected with every
/// violation named, before any field is read.
public protocol SchemaMessage: Codable, Sendable {
    /// The schema the message's JSON satisfies.
    static var schema: SchemaName { get }
}

extension SchemaMessage {
    /// The message as JSON (UTF-8): the value of its Kafka record.
    public func encoded() -> [UInt8] {
        // Encoding these plain types cannot fail: no non-finite numbers reach them (validated or computed).
        (try? MessageCoding.encoder.encode(self)).map(Array.init) ?? Array("{}".utf8)
    }

    /// Parses `bytes`, validates them against `Self.schema` and decodes them.
    /// - Throws: `MessageDecodingError`: not JSON, schema violations (all of them), or a shape the schema
    ///   allows but the type does not.
    public static func decode(_ bytes: [UInt8], schemas: SchemaRegistry) throws(MessageDecodingError) -> Self {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw MessageDecodingError(kind: .notJSON, message: "the value is not JSON: \(error)")
        }
        let violations = schemas.validate(value, against: schema)
        guard violations.isEmpty else {
            throw MessageDecodingError(kind: .schemaViolation, message: violations.map { "\($0.pointer): \($0.message)" }.joined(separator: "; "),
                                       violations: violations)
        }
        do {
            return try MessageCoding.decoder.decode(Self.self, from: Data(bytes))
        } catch {
            throw MessageDecodingError(kind: .schemaViolation, message: "does not decode as \(Self.self): \(error)")
        }
    }
}

/// Why bytes are not a valid message: a poison pill for the consumer that read them.
public struct MessageDecodingError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Not parseable as JSON (`dlq-reason: invalid_message`).
        case notJSON = "invalid_message"
        /// JSON that breaks the message's schema (`dlq-reason: schema_violation`).
        case schemaViolation = "schema_violation"
    }

    public let kind: Kind
    public let message: String
    /// Every schema violation, when `kind` is `.schemaViolation` and the validator found them.
    public let violations: [SchemaViolation]

    public init(kind: Kind, message: String, violations: [SchemaViolation] = []) {
        self.kind = kind
        self.message = message
        self.violations = violations
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// The one encoder and decoder configuration of the messages: snake_case comes from each type's
/// `CodingKeys`, dates are RFC 3339 (UTC, fractional seconds when present).
enum MessageCoding {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            for style in [Date.ISO8601FormatStyle(includingFractionalSeconds: true), Date.ISO8601FormatStyle()] {
                if let date = try? Date(text, strategy: style) { return date }
            }
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 date-time: \(text)")
        }
        return decoder
    }()
}
