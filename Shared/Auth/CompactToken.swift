import Foundation
import Schemas

/// A JWS compact serialisation (`header.payload.signature`) read on its UTF-8 bytes: the two dots found in
/// one pass and the parts base64url-decoded with a lookup table, with no `String` splitting or copying.
struct CompactToken {
    /// The token's UTF-8 bytes, as handed to jwt-kit for signature verification.
    let bytes: [UInt8]
    private let firstDot: Int
    private let secondDot: Int

    /// Nil unless the token has exactly three parts (two dots).
    init?(_ token: String) {
        bytes = Array(token.utf8)
        var dots = (-1, -1)
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: ".") {
            if dots.0 < 0 { dots.0 = index } else if dots.1 < 0 { dots.1 = index } else { return nil }
        }
        guard dots.1 >= 0 else { return nil }
        (firstDot, secondDot) = dots
    }

    /// The decoded header, nil when it is not base64url.
    var decodedHeader: [UInt8]? { Self.base64URLDecode(bytes[..<firstDot]) }

    /// The `alg` and `kid` header members: nil when the header is not base64url of a JSON object whose
    /// `alg` and `kid` are strings, null or absent.
    func header() -> (alg: String?, kid: String?)? {
        guard let decoded = decodedHeader, case .object(let object)? = try? JSONValue.parse(decoded) else { return nil }
        func member(_ name: String) -> String?? {
            switch object[name] {
            case nil, .null?: .some(nil)
            case .string(let value)?: .some(value)
            default: nil
            }
        }
        guard let alg = member("alg"), let kid = member("kid") else { return nil }
        return (alg, kid)
    }

    /// base64url without padding (RFC 7515 §2); nil for any other character or an impossible length.
    static func base64URLDecode(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count % 4 != 1 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(text.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in text {
            let value = decodeTable[Int(byte)]
            guard value != 0xFF else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return output
    }

    /// base64url alphabet value of each byte; 0xFF for bytes outside it (`=` padding included).
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8.enumerated() {
            table[Int(character)] = UInt8(value)
        }
        return table
    }()
}
