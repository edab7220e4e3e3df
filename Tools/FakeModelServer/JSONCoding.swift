#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// JSON in and out of the server.
enum JSONCoding {
    /// Encodes with sorted keys, so bodies are byte-stable.
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// Decodes `bytes` as `Value`, turning decoding failures into a ``WireError`` that names the field.
    static func decode<Value: Decodable>(_ type: Value.Type, from bytes: [UInt8]) throws(WireError) -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: Data(bytes))
        } catch let error as WireError {
            throw error
        } catch let error as ControlsPatchError {
            throw WireError(param: nil, error.description)
        } catch let DecodingError.keyNotFound(key, context) {
            throw WireError(param: self.path(context.codingPath + [key]), "missing required field '\(self.path(context.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(expected, context) {
            throw WireError(param: self.path(context.codingPath), "field '\(self.path(context.codingPath))' must be \(self.name(of: expected))")
        } catch let DecodingError.valueNotFound(expected, context) {
            throw WireError(param: self.path(context.codingPath), "field '\(self.path(context.codingPath))' must be \(self.name(of: expected)), not null")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw WireError(param: self.path(context.codingPath), "field '\(self.path(context.codingPath))' is invalid: \(context.debugDescription)")
        } catch {
            throw WireError(param: nil, "the body is not valid JSON")
        }
    }

    /// `value` as a JSON string literal.
    static func quoted(_ value: String) -> String {
        var result = "\""
        result.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            .replacing(".[", with: "[")
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is UInt64.Type: return "an integer"
        case is Double.Type: return "a number"
        case is [String: Int].Type, is [String: String].Type: return "an object"
        default:
            let name = String(describing: type)
            return name.hasPrefix("Array") || name.hasPrefix("[") ? "an array" : "an object"
        }
    }
}

/// Seconds since 1970, for `created`.
func unixTimeNow() -> Int {
    Int(Date().timeIntervalSince1970)
}
