extension JSONValue {
    /// Every string of the value, member names included, that holds U+0000 (NUL), as violations pointing
    /// at it: the first `limit` listed, all counted.
    ///
    /// Postgres `text` and `jsonb` cannot store U+0000, so a record holding one would be refused by every
    /// consumer that stores it; the gateway rejects such bodies before anything reaches a topic. A member
    /// whose name holds NUL is reported at the member's pointer with keyword `propertyNames`; a string
    /// value with keyword `nul`.
    public func nulCharacterViolations(limit: Int = .max) -> SchemaViolationSummary {
        var summary = SchemaViolationSummary(violations: [], totalCount: 0)
        var path: [String] = []
        func report(_ keyword: String, _ message: String) {
            summary.totalCount += 1
            guard summary.violations.count < limit else { return }
            var pointer = ""
            for token in path {
                pointer.append("/")
                JSONPointer.appendEscaped(token, to: &pointer)
            }
            summary.violations.append(SchemaViolation(pointer: pointer, keyword: keyword, message: message))
        }
        func visit(_ value: JSONValue) {
            switch value {
            case .string(let string):
                if string.utf8.contains(0) { report("nul", "must not contain U+0000 (NUL)") }
            case .array(let elements):
                for (index, element) in elements.enumerated() {
                    path.append(String(index))
                    visit(element)
                    path.removeLast()
                }
            case .object(let object):
                for (key, member) in object {
                    path.append(key)
                    if key.utf8.contains(0) { report("propertyNames", "has a name that must not contain U+0000 (NUL)") }
                    visit(member)
                    path.removeLast()
                }
            case .null, .bool, .integer, .double:
                break
            }
        }
        visit(self)
        return summary
    }
}
