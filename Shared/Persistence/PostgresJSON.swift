public import Foundation

/// A JSON document for a `json`/`jsonb` parameter or column, kept as its text.
///
/// As a parameter it is sent as text (the server parses and validates it); as a result it holds the
/// server's text of the document. `decode(_:)` turns it into any `Decodable`. A value type, hence `Sendable`.
public struct PostgresJSON: Sendable, Hashable, PostgresEncodable, PostgresDecodable {
    /// The document's JSON text.
    public let text: String

    /// Wraps JSON text as is (the server validates it when used as `jsonb`).
    public init(_ text: String) {
        self.text = text
    }

    /// Wraps UTF-8 JSON bytes; throws `PostgresError` (code `.encoding`) when they are not UTF-8.
    public init(data: Data) throws {
        guard let text = String(data: data, encoding: .utf8) else {
            throw PostgresError(code: .encoding, message: "JSON data is not valid UTF-8")
        }
        self.text = text
    }

    /// Encodes a value with `JSONEncoder` (sorted keys, so equal values give equal text).
    public init<T: Encodable>(encoding value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try self.init(data: try encoder.encode(value))
    }

    /// The document's UTF-8 bytes.
    public var data: Data { Data(text.utf8) }

    /// Decodes the document with `JSONDecoder`.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: data)
    }

    /// The JSON text, as the parameter's value.
    public func postgresText() -> String? { text }

    /// Wraps a `json`/`jsonb` (or text) column's value; throws on NULL (decode `PostgresJSON?` to allow it).
    public static func decode(from cell: PostgresCell) throws -> PostgresJSON {
        PostgresJSON(try cell.requireText(as: "PostgresJSON"))
    }
}
