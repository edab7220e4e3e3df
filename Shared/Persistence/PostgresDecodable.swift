public import Foundation

/// A Swift type that can be read from a value in Postgres's text format.
///
/// Conformances: `String`, `Int`, `Int64`, `Int32`, `Int16`, `Double`, `Float`, `Bool`, `UUID`, `Date`
/// (`timestamptz`, `timestamp`, `date`), `Data` (`bytea`; for other types the UTF-8 bytes of the text, so
/// `jsonb` decodes as its JSON text), `[Float]` (pgvector's `vector`, also `real[]`), `PostgresJSON`, and
/// `Optional` of any of them (NULL → `nil`; a non-optional type throws on NULL).
public protocol PostgresDecodable {
    /// Reads a value from a cell; throws `PostgresError` with code `.decoding` on NULL or malformed text.
    static func decode(from cell: PostgresCell) throws -> Self
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    /// NULL becomes `nil`; anything else decodes as `Wrapped`.
    public static func decode(from cell: PostgresCell) throws -> Wrapped? {
        cell.isNull ? nil : try Wrapped.decode(from: cell)
    }
}

extension String: PostgresDecodable {
    /// The text as is (any column type).
    public static func decode(from cell: PostgresCell) throws -> String {
        try cell.requireText(as: "String")
    }
}

extension Int: PostgresDecodable {
    /// Integer text (`int2`, `int4`, `int8`).
    public static func decode(from cell: PostgresCell) throws -> Int {
        guard let value = Int(try cell.requireText(as: "Int")) else { throw cell.decodingError("Int") }
        return value
    }
}

extension Int64: PostgresDecodable {
    /// Integer text (`int2`, `int4`, `int8`).
    public static func decode(from cell: PostgresCell) throws -> Int64 {
        guard let value = Int64(try cell.requireText(as: "Int64")) else { throw cell.decodingError("Int64") }
        return value
    }
}

extension Int32: PostgresDecodable {
    /// Integer text that fits 32 bits.
    public static func decode(from cell: PostgresCell) throws -> Int32 {
        guard let value = Int32(try cell.requireText(as: "Int32")) else { throw cell.decodingError("Int32") }
        return value
    }
}

extension Int16: PostgresDecodable {
    /// Integer text that fits 16 bits.
    public static func decode(from cell: PostgresCell) throws -> Int16 {
        guard let value = Int16(try cell.requireText(as: "Int16")) else { throw cell.decodingError("Int16") }
        return value
    }
}

extension Double: PostgresDecodable {
    /// Accepts Postgres's `NaN`, `Infinity` and `-Infinity` as well as numbers (`float8`, `float4`, `numeric`).
    public static func decode(from cell: PostgresCell) throws -> Double {
        guard let value = Double(try cell.requireText(as: "Double")) else { throw cell.decodingError("Double") }
        return value
    }
}

extension Float: PostgresDecodable {
    /// Number text (`float4`, `float8`, `numeric`), also `NaN`/`Infinity`.
    public static func decode(from cell: PostgresCell) throws -> Float {
        guard let value = Float(try cell.requireText(as: "Float")) else { throw cell.decodingError("Float") }
        return value
    }
}

extension Bool: PostgresDecodable {
    /// Postgres prints booleans as `t`/`f`; `true`/`false` are accepted as well.
    public static func decode(from cell: PostgresCell) throws -> Bool {
        switch try cell.requireText(as: "Bool") {
        case "t", "true", "TRUE", "on", "1": return true
        case "f", "false", "FALSE", "off", "0": return false
        default: throw cell.decodingError("Bool")
        }
    }
}

extension UUID: PostgresDecodable {
    /// `uuid` text in any case.
    public static func decode(from cell: PostgresCell) throws -> UUID {
        guard let value = UUID(uuidString: try cell.requireText(as: "UUID")) else { throw cell.decodingError("UUID") }
        return value
    }
}

extension Date: PostgresDecodable {
    /// Reads `timestamptz` (any ISO offset), `timestamp` and `date` (both as UTC) in `DateStyle=ISO`.
    public static func decode(from cell: PostgresCell) throws -> Date {
        guard let value = PostgresTimestamp.parse(try cell.requireText(as: "Date")) else {
            throw cell.decodingError("Date", "expected an ISO timestamp such as 2024-05-01 12:00:00+00")
        }
        return value
    }
}

extension Data: PostgresDecodable {
    /// `bytea` in hex output format (`\x0a1b…`) becomes its bytes; any other type becomes the UTF-8 bytes
    /// of its text (so `jsonb`/`json` columns give their JSON document).
    public static func decode(from cell: PostgresCell) throws -> Data {
        let text = try cell.requireText(as: "Data")
        guard cell.column.dataTypeOID == PostgresColumn.OID.bytea else { return Data(text.utf8) }
        guard let bytes = PostgresBytea.decodeHex(text) else {
            throw cell.decodingError("Data", "expected bytea in hex format (bytea_output = 'hex')")
        }
        return bytes
    }
}

extension Array: PostgresDecodable where Element == Float {
    /// Reads pgvector's `vector` text form `[1,2.5,-3e-05]`, and also a `real[]`/`float8[]` array `{1,2.5}`.
    public static func decode(from cell: PostgresCell) throws -> [Float] {
        let text = try cell.requireText(as: "[Float]")
        guard let vector = PostgresVectorText.parse(text) else {
            throw cell.decodingError("[Float]", "expected a vector such as [1,2,3]")
        }
        return vector
    }
}
