import Foundation
import JWTKit
import Schemas

/// The JSON decoder jwt-kit uses for a verified token's parts: `ClaimSet` payloads and flat header objects
/// (jwt-kit's `alg`/`kid` fields) are read with the strict byte parser of `Schemas` (`JSONValue.parse`:
/// duplicate members, invalid UTF-8 and trailing garbage are errors) instead of Foundation's `JSONDecoder`,
/// which cost more than the RSA verification itself. Anything else (JWKs when keys load) goes to
/// `JSONDecoder`.
struct ClaimsJSONDecoder: JWTJSONDecoder {
    /// The parser every key collection of the verifier is created with.
    static let parser = DefaultJWTParser(jsonDecoder: ClaimsJSONDecoder())

    func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        if T.self == ClaimSet.self {
            return try ClaimSet(json: Array(data)) as! T
        }
        let bytes = Array(data)
        if let object = try? JSONValue.parse(bytes), case .object(let members) = object,
           let value = try? T(from: FlatObjectDecoder(members: members)) {
            return value
        }
        return try JSONDecoder().decode(T.self, from: data)
    }
}

extension ClaimSet {
    /// Decodes a payload: a JSON object, each member a claim.
    init(json bytes: [UInt8]) throws {
        guard case .object(let object) = try JSONValue.parse(bytes) else {
            throw DecodingError.typeMismatch(ClaimSet.self, .init(codingPath: [], debugDescription: "the payload is not a JSON object"))
        }
        var claims: [String: ClaimValue] = [:]
        claims.reserveCapacity(object.count)
        for (name, value) in object { claims[name] = ClaimValue(value) }
        self.init(claims)
    }
}

extension ClaimValue {
    /// The claim a parsed JSON value is; numbers are `Double`s as `JSONDecoder` gives them.
    init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .bool(let value): self = .bool(value)
        case .integer(let value): self = .number(Double(value))
        case .double(let value): self = .number(value)
        case .string(let value): self = .string(value)
        case .array(let elements): self = .array(elements.map(ClaimValue.init))
        case .object(let object):
            var members: [String: ClaimValue] = [:]
            for (name, value) in object { members[name] = ClaimValue(value) }
            self = .object(members)
        }
    }
}

/// Decodes a type whose members are optional strings (jwt-kit's header fields) from a parsed object; any
/// other request throws, and the caller falls back to `JSONDecoder`.
private struct FlatObjectDecoder: Decoder {
    let members: JSONObject
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    struct Unsupported: Error {}

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Container<Key>(members: members))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw Unsupported() }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { throw Unsupported() }

    struct Container<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let members: JSONObject
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { members.keys.compactMap(Key.init(stringValue:)) }

        func contains(_ key: Key) -> Bool { members.contains(key: key.stringValue) }

        func decodeNil(forKey key: Key) throws -> Bool {
            switch members[key.stringValue] {
            case nil, .null?: true
            default: false
            }
        }

        func decode(_ type: String.Type, forKey key: Key) throws -> String {
            guard case .string(let value)? = members[key.stringValue] else { throw Unsupported() }
            return value
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { throw Unsupported() }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            throw Unsupported()
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { throw Unsupported() }
        func superDecoder() throws -> any Decoder { throw Unsupported() }
        func superDecoder(forKey key: Key) throws -> any Decoder { throw Unsupported() }
    }
}
