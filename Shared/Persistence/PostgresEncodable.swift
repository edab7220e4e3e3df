public import Foundation

/// A Swift value that can be sent as a query parameter, in Postgres's text format.
///
/// Parameters are sent untyped, so the server infers each one's type from the statement
/// (`WHERE id = $1`, `INSERT … VALUES ($1)`); add a cast (`$1::jsonb`, `$1::vector`) where it cannot.
/// Conformances: `String`, `Substring`, the integer types, `Double`, `Float`, `Bool`, `UUID`, `Date`
/// (`timestamptz`, microsecond precision, UTC), `Data` (`bytea`), `[Float]` (pgvector `vector` text form
/// `[1,2,3]`), `PostgresJSON` (`jsonb`), and `Optional` of any of them (`nil` → SQL NULL).
public protocol PostgresEncodable {
    /// The value's text form, or `nil` for SQL NULL. Throws `PostgresError` (code `.encoding`) when the value
    /// has no text form (e.g. a non-finite element in a vector).
    func postgresText() throws -> String?
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    /// `nil` → SQL NULL; otherwise the wrapped value's text.
    public func postgresText() throws -> String? {
        switch self {
        case .none: nil
        case .some(let value): try value.postgresText()
        }
    }
}

extension String: PostgresEncodable {
    /// The string itself (valid for any type the server can parse from text).
    public func postgresText() -> String? { self }
}

extension Substring: PostgresEncodable {
    /// The characters as a string.
    public func postgresText() -> String? { String(self) }
}

extension Int: PostgresEncodable {
    /// Decimal digits.
    public func postgresText() -> String? { String(self) }
}

extension Int64: PostgresEncodable {
    /// Decimal digits.
    public func postgresText() -> String? { String(self) }
}

extension Int32: PostgresEncodable {
    /// Decimal digits.
    public func postgresText() -> String? { String(self) }
}

extension Int16: PostgresEncodable {
    /// Decimal digits.
    public func postgresText() -> String? { String(self) }
}

extension UInt32: PostgresEncodable {
    /// Decimal digits.
    public func postgresText() -> String? { String(self) }
}

extension Double: PostgresEncodable {
    /// The shortest text that reads back as the same `Double`; `NaN`, `Infinity`, `-Infinity` as Postgres spells them.
    public func postgresText() -> String? {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return description
    }
}

extension Float: PostgresEncodable {
    /// The shortest text that reads back as the same `Float`; `NaN`, `Infinity`, `-Infinity` as Postgres spells them.
    public func postgresText() -> String? {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return description
    }
}

extension Bool: PostgresEncodable {
    /// `true` or `false`.
    public func postgresText() -> String? { self ? "true" : "false" }
}

extension UUID: PostgresEncodable {
    /// Canonical lower-case `uuid` text.
    public func postgresText() -> String? { uuidString.lowercased() }
}

extension Date: PostgresEncodable {
    /// `YYYY-MM-DD HH:MM:SS.ffffff+00:00`: UTC with microseconds, Postgres's own precision.
    public func postgresText() -> String? { PostgresTimestamp.format(self) }
}

extension Data: PostgresEncodable {
    /// `bytea` hex input format `\x…`. For a JSON document use `PostgresJSON` or a `String`.
    public func postgresText() -> String? { PostgresBytea.encodeHex(self) }
}

extension Array: PostgresEncodable where Element == Float {
    /// pgvector's text form `[1,2.5,-3e-05]`; cast with `$1::vector` where the type cannot be inferred.
    public func postgresText() throws -> String? {
        try PostgresVectorText.format(self)
    }
}
