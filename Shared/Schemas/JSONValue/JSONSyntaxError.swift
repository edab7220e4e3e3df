/// Why a byte sequence is not a JSON document, and where.
///
/// `offset` is the 0-based byte offset of the offending byte (the input's length when it ended too
/// early); `line` and `column` are 1-based, with `column` counted in Unicode scalars from the line's start,
/// so they match what an editor shows.
public struct JSONSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, e.g. `expected ',' or '}' after an object member`.
    public let message: String
    /// 0-based byte offset into the input.
    public let offset: Int
    /// 1-based line number (lines end at `\n`).
    public let line: Int
    /// 1-based column, in Unicode scalars.
    public let column: Int

    /// An error with an already computed position.
    public init(message: String, offset: Int, line: Int, column: Int) {
        self.message = message
        self.offset = offset
        self.line = line
        self.column = column
    }

    /// An error at `offset` in `bytes`, with the line and column computed from the bytes before it.
    init(message: String, offset: Int, in bytes: [UInt8]) {
        var line = 1
        var column = 1
        for byte in bytes[..<min(offset, bytes.count)] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0b1100_0000 != 0b1000_0000 {  // not a UTF-8 continuation byte
                column += 1
            }
        }
        self.init(message: message, offset: offset, line: line, column: column)
    }

    public var description: String {
        "invalid JSON at line \(line), column \(column) (byte \(offset)): \(message)"
    }
}
