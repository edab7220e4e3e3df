/// A strict, single-pass JSON parser over UTF-8 bytes (RFC 8259); see `JSONValue.parse`.
///
/// Recursive descent, with recursion bounded by `maxDepth`. Strings without escapes are decoded straight
/// from the input after their UTF-8 has been validated here, so decoding never substitutes U+FFFD.
struct JSONParser {
    private let bytes: [UInt8]
    private let maxDepth: Int
    private var position = 0
    /// Reused buffer for strings that contain escapes.
    private var scratch: [UInt8] = []

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            throw error("a byte order mark (U+FEFF) is not allowed before a JSON text", at: 0)
        }
        let value = try parseValue(depth: 0)
        skipWhitespace()
        if position < bytes.count {
            throw error("unexpected \(describeByte(at: position)) after the JSON value", at: position)
        }
        return value
    }

    // MARK: - Values

    private mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        skipWhitespace()
        guard position < bytes.count else {
            throw error("unexpected end of input, expected a JSON value", at: position)
        }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        case UInt8(ascii: "N"), UInt8(ascii: "I"):
            throw error("NaN and Infinity are not JSON numbers", at: position)
        case UInt8(ascii: "'"):
            throw error("strings must be enclosed in double quotes, not single quotes", at: position)
        default:
            throw error("unexpected \(describeByte(at: position)), expected a JSON value", at: position)
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        let start = position
        try checkDepth(depth, at: start)
        position += 1  // {
        var object = JSONObject()
        skipWhitespace()
        if peek(UInt8(ascii: "}")) {
            position += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count else {
                throw error("unexpected end of input inside an object started at byte \(start)", at: position)
            }
            guard bytes[position] == UInt8(ascii: "\"") else {
                if bytes[position] == UInt8(ascii: "}") {
                    throw error("a trailing comma is not allowed before '}'", at: position)
                }
                throw error("expected a string key in double quotes, found \(describeByte(at: position))", at: position)
            }
            let keyOffset = position
            let key = try parseString()
            skipWhitespace()
            guard peek(UInt8(ascii: ":")) else {
                throw error("expected ':' after the object key, found \(describeByte(at: position))", at: position)
            }
            position += 1
            let value = try parseValue(depth: depth)
            guard object.insertNew(key: key, value: value) else {
                throw error("duplicate object key \"\(key)\"", at: keyOffset)
            }
            skipWhitespace()
            guard position < bytes.count else {
                throw error("unexpected end of input inside an object started at byte \(start)", at: position)
            }
            switch bytes[position] {
            case UInt8(ascii: ","):
                position += 1
            case UInt8(ascii: "}"):
                position += 1
                return .object(object)
            default:
                throw error("expected ',' or '}' after an object member, found \(describeByte(at: position))", at: position)
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        let start = position
        try checkDepth(depth, at: start)
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek(UInt8(ascii: "]")) {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            if peek(UInt8(ascii: "]")) {
                throw error("a trailing comma is not allowed before ']'", at: position)
            }
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard position < bytes.count else {
                throw error("unexpected end of input inside an array started at byte \(start)", at: position)
            }
            switch bytes[position] {
            case UInt8(ascii: ","):
                position += 1
            case UInt8(ascii: "]"):
                position += 1
                return .array(elements)
            default:
                throw error("expected ',' or ']' after an array element, found \(describeByte(at: position))", at: position)
            }
        }
    }

    private func checkDepth(_ depth: Int, at offset: Int) throws(JSONSyntaxError) {
        if depth > maxDepth {
            throw error("arrays and objects are nested more than \(maxDepth) levels deep", at: offset)
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONSyntaxError) {
        let start = position
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for byte in expected {
            guard position < bytes.count, bytes[position] == byte else {
                throw error("invalid literal, expected '\(literal)'", at: start)
            }
            position += 1
        }
        // `trueish` is not `true` followed by garbage worth a separate message; say what it is.
        if position < bytes.count, Self.isIdentifierByte(bytes[position]) {
            throw error("invalid literal, expected '\(literal)'", at: start)
        }
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }

    // MARK: - Numbers

    private mutating func parseNumber() throws(JSONSyntaxError) -> JSONValue {
        let start = position
        var isInteger = true
        if bytes[position] == UInt8(ascii: "-") {
            position += 1
            if peek(UInt8(ascii: "I")) {
                throw error("NaN and Infinity are not JSON numbers", at: start)
            }
        }
        guard position < bytes.count, Self.isDigit(bytes[position]) else {
            throw error("expected a digit in the number", at: position)
        }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            if position < bytes.count, Self.isDigit(bytes[position]) {
                throw error("a number must not have leading zeros", at: start)
            }
        } else {
            skipDigits()
        }
        if peek(UInt8(ascii: ".")) {
            isInteger = false
            position += 1
            guard position < bytes.count, Self.isDigit(bytes[position]) else {
                throw error("expected a digit after the decimal point", at: position)
            }
            skipDigits()
        }
        if peek(UInt8(ascii: "e")) || peek(UInt8(ascii: "E")) {
            isInteger = false
            position += 1
            if peek(UInt8(ascii: "+")) || peek(UInt8(ascii: "-")) {
                position += 1
            }
            guard position < bytes.count, Self.isDigit(bytes[position]) else {
                throw error("expected a digit in the exponent", at: position)
            }
            skipDigits()
        }
        if isInteger, let exact = integerValue(start..<position) {
            return .integer(exact)
        }
        let literal = String(decoding: bytes[start..<position], as: UTF8.self)
        guard let value = Double(literal), value.isFinite else {
            throw error("the number \(literal) is out of range", at: start)
        }
        return .double(value)
    }

    /// The integer literal in `range` as an `Int`, or `nil` when it overflows.
    private func integerValue(_ range: Range<Int>) -> Int? {
        var index = range.lowerBound
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        // Accumulate negatively so that Int.min, whose magnitude exceeds Int.max, parses too.
        var value = 0
        while index < range.upperBound {
            let digit = Int(bytes[index] &- UInt8(ascii: "0"))
            let (scaled, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = scaled.subtractingReportingOverflow(digit)
            if overflow1 || overflow2 { return nil }
            value = next
            index += 1
        }
        if negative { return value }
        return value == Int.min ? nil : -value
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func skipDigits() {
        while position < bytes.count, Self.isDigit(bytes[position]) {
            position += 1
        }
    }

    // MARK: - Strings

    /// Parses a string starting at its opening quote.
    private mutating func parseString() throws(JSONSyntaxError) -> String {
        let start = position
        position += 1  // "
        var runStart = position
        var hasEscapes = false
        while true {
            guard position < bytes.count else {
                throw error("unterminated string (started at byte \(start))", at: position)
            }
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                let result: String
                if hasEscapes {
                    scratch.append(contentsOf: bytes[runStart..<position])
                    result = String(decoding: scratch, as: UTF8.self)
                } else {
                    result = String(decoding: bytes[runStart..<position], as: UTF8.self)
                }
                position += 1
                return result
            case UInt8(ascii: "\\"):
                if !hasEscapes {
                    hasEscapes = true
                    scratch.removeAll(keepingCapacity: true)
                }
                scratch.append(contentsOf: bytes[runStart..<position])
                try parseEscape()
                runStart = position
            case 0x00..<0x20:
                throw error(
                    "control character U+\(Self.hex(UInt32(byte), digits: 4)) must be escaped in a string",
                    at: position
                )
            case 0x20..<0x80:
                position += 1
            default:
                try skipUTF8Sequence()
            }
        }
    }

    /// Parses the escape at `position` (a backslash) and appends its UTF-8 to `scratch`.
    private mutating func parseEscape() throws(JSONSyntaxError) {
        let start = position
        position += 1
        guard position < bytes.count else {
            throw error("unterminated escape sequence", at: start)
        }
        let byte = bytes[position]
        position += 1
        switch byte {
        case UInt8(ascii: "\""): scratch.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): scratch.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "/"): scratch.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try parseHex4(escapeStart: start)
            let scalarValue: UInt32
            switch unit {
            case 0xD800...0xDBFF:
                let lowStart = position
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                else {
                    throw error(
                        "lone high surrogate \\u\(Self.hex(unit, digits: 4)) must be followed by a \\u low surrogate",
                        at: start
                    )
                }
                position += 2
                let low = try parseHex4(escapeStart: lowStart)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw error(
                        "lone high surrogate \\u\(Self.hex(unit, digits: 4)) is followed by \\u\(Self.hex(low, digits: 4)), not a low surrogate",
                        at: start
                    )
                }
                scalarValue = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            case 0xDC00...0xDFFF:
                throw error("lone low surrogate \\u\(Self.hex(unit, digits: 4)) without a preceding high surrogate", at: start)
            default:
                scalarValue = unit
            }
            Self.appendUTF8(of: scalarValue, to: &scratch)
        default:
            throw error("invalid escape sequence \\\(describeEscapeCharacter(byte))", at: start)
        }
    }

    private func describeEscapeCharacter(_ byte: UInt8) -> String {
        (0x21..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "followed by byte 0x\(Self.hex(UInt32(byte), digits: 2))"
    }

    /// Four hex digits at `position`, after a `\u`.
    private mutating func parseHex4(escapeStart: Int) throws(JSONSyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard position < bytes.count, let digit = Self.hexDigitValue(bytes[position]) else {
                throw error("\\u must be followed by four hex digits", at: escapeStart)
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private static func hexDigitValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Validates the multi-byte UTF-8 sequence at `position` (Unicode Table 3-7) and moves past it.
    private mutating func skipUTF8Sequence() throws(JSONSyntaxError) {
        guard let length = Self.validUTF8SequenceLength(in: bytes, at: position) else {
            throw error("invalid UTF-8 (byte 0x\(Self.hex(UInt32(bytes[position]), digits: 2)))", at: position)
        }
        position += length
    }

    /// The length of the well-formed UTF-8 sequence starting at `index`, or `nil` if it is ill-formed.
    static func validUTF8SequenceLength(in bytes: [UInt8], at index: Int) -> Int? {
        let lead = bytes[index]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF  // no overlong forms
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F  // no encoded surrogates
        case 0xF0: length = 4; secondRange = 0x90...0xBF  // no overlong forms
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F  // nothing above U+10FFFF
        default: return nil
        }
        guard index + length <= bytes.count, secondRange.contains(bytes[index + 1]) else { return nil }
        for offset in 2..<length where !(0x80...0xBF).contains(bytes[index + offset]) {
            return nil
        }
        return length
    }

    /// Appends the UTF-8 encoding of a Unicode scalar value (never a surrogate) to `buffer`.
    private static func appendUTF8(of scalar: UInt32, to buffer: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            buffer.append(UInt8(scalar))
        case 0x80..<0x800:
            buffer.append(UInt8(0xC0 | scalar >> 6))
            buffer.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            buffer.append(UInt8(0xE0 | scalar >> 12))
            buffer.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            buffer.append(UInt8(0x80 | scalar & 0x3F))
        default:
            buffer.append(UInt8(0xF0 | scalar >> 18))
            buffer.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            buffer.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            buffer.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    // MARK: - Helpers

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                position += 1
            default:
                return
            }
        }
    }

    private func peek(_ byte: UInt8) -> Bool {
        position < bytes.count && bytes[position] == byte
    }

    /// A human description of the byte (or character) at `index`, for messages.
    private func describeByte(at index: Int) -> String {
        guard index < bytes.count else { return "end of input" }
        let byte = bytes[index]
        switch byte {
        case 0x21..<0x7F:
            return "character '\(Character(UnicodeScalar(byte)))'"
        case 0x00..<0x80:
            return "character U+\(Self.hex(UInt32(byte), digits: 4))"
        default:
            guard let length = Self.validUTF8SequenceLength(in: bytes, at: index) else {
                return "invalid UTF-8 byte 0x\(Self.hex(UInt32(byte), digits: 2))"
            }
            return "character '\(String(decoding: bytes[index..<index + length], as: UTF8.self))'"
        }
    }

    private func error(_ message: String, at offset: Int) -> JSONSyntaxError {
        JSONSyntaxError(message: message, offset: offset, in: bytes)
    }

    static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
