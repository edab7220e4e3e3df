extension JSONValue {
    /// The nesting limit `parse` applies unless told otherwise: arrays and objects nested deeper than this
    /// are rejected, which bounds the parser's stack use on hostile input.
    public static let defaultMaxDepth = 64

    /// Parses one JSON document (RFC 8259) from UTF-8 bytes, strictly.
    ///
    /// Rejected, each with its position: anything after the value but whitespace; invalid UTF-8 (overlong
    /// forms, encoded surrogates, code points above U+10FFFF, truncated sequences); a byte order mark;
    /// unescaped control characters in strings; unknown escapes; lone `\u` surrogates; numbers with leading
    /// zeros, a bare `-`, `.5`, `1.`, or out of `Double`'s range; `NaN`/`Infinity`; trailing commas;
    /// duplicate keys in an object; nesting deeper than `maxDepth` arrays/objects.
    ///
    /// Integers that fit in `Int` become `.integer` (exact); other numbers `.double`.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws(JSONSyntaxError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        return try parser.parseDocument()
    }

    /// Parses one JSON document from a string's UTF-8 encoding; see the byte-array overload.
    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONSyntaxError) -> JSONValue {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }
}
