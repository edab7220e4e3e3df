public import JWTKit

/// One claim's JSON value.
public enum ClaimValue: Sendable, Hashable, Codable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([ClaimValue])
    case object([String: ClaimValue])
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([ClaimValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: ClaimValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value):
            if value == value.rounded(), abs(value) < 1e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }
}

/// A token's payload with every claim kept, so the tier and tenant claim names can be configured.
///
/// Registered claims (`exp`, `nbf`, `iss`, `aud`, `sub`) are checked by `TokenVerifier` with its leeway,
/// not here: `verify(using:)` only runs after the signature has been checked and does nothing.
public struct ClaimSet: JWTPayload, Sendable, Hashable {
    public var claims: [String: ClaimValue]

    public init(_ claims: [String: ClaimValue] = [:]) {
        self.claims = claims
    }

    public subscript(name: String) -> ClaimValue? {
        get { claims[name] }
        set { claims[name] = newValue }
    }

    public init(from decoder: any Decoder) throws {
        self.claims = try decoder.singleValueContainer().decode([String: ClaimValue].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(claims)
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}
