/// One validation pass of a value against a compiled node, collecting the violations: the first `limit`
/// in full, all of them counted.
///
/// The instance path is kept as a stack of tokens and turned into a JSON pointer only when a violation is
/// listed, so valid documents, and violations beyond the limit, cost no string building. An array over its
/// `maxItems` is reported once and its items are not checked: their violations would only bury that one.
struct SchemaValidation {
    private enum PathToken {
        case key(String)
        case index(Int)
    }

    private let nodes: [SchemaNode]
    private var path: [PathToken] = []
    private let limit: Int
    private(set) var violations: [SchemaViolation] = []
    /// Every violation found, listed or not.
    private(set) var count = 0

    init(nodes: [SchemaNode], limit: Int = .max) {
        self.nodes = nodes
        self.limit = limit
    }

    mutating func validate(_ value: JSONValue, against index: Int) {
        let node = nodes[index]
        if node.rejectsEverything {
            report("false", "is not allowed")
            return
        }
        if let reference = node.reference {
            validate(value, against: reference)
        }
        var hasValidType = true
        if let types = node.types, !types.matches(value) {
            report("type", "must be \(types.phrase)")
            hasValidType = false
        }
        // With the wrong type, "must be one of …" would only repeat the type violation.
        if hasValidType {
            if let constant = node.constValue, constant != value {
                report("const", "must be \(Self.describe(constant))")
            }
            if let allowed = node.enumValues, !allowed.contains(value) {
                report("enum", "must be one of \(allowed.map(Self.describe).joined(separator: ", "))")
            }
        }
        switch value {
        case .string(let string):
            validateString(string, node)
        case .integer, .double:
            validateNumber(value, node)
        case .array(let elements):
            validateArray(elements, node)
        case .object(let object):
            validateObject(object, node)
        case .null, .bool:
            break
        }
    }

    private mutating func validateString(_ string: String, _ node: SchemaNode) {
        if node.minLength != nil || node.maxLength != nil {
            // Scalars ≤ UTF-8 bytes ≤ 4 × scalars: count scalars only when the byte count cannot decide.
            let byteCount = string.utf8.count
            var scalarCount: Int?
            func scalars() -> Int {
                if let scalarCount { return scalarCount }
                let count = string.unicodeScalars.count
                scalarCount = count
                return count
            }
            if let minimum = node.minLength, byteCount < minimum || (byteCount < 4 * minimum && scalars() < minimum) {
                report("minLength", "must be at least \(Self.plural(minimum, "character"))")
            }
            if let maximum = node.maxLength, byteCount > maximum && scalars() > maximum {
                report("maxLength", "must be at most \(Self.plural(maximum, "character"))")
            }
        }
        if let pattern = node.pattern, !pattern.matches(string) {
            report("pattern", "must match the pattern \(pattern.source)")
        }
        if let format = node.format, !format.isValid(string) {
            report("format", format.requirement)
        }
    }

    private mutating func validateNumber(_ value: JSONValue, _ node: SchemaNode) {
        if let minimum = node.minimum, JSONNumberComparison.compare(value, minimum) == .less {
            report("minimum", "must be at least \(minimum)")
        }
        if let maximum = node.maximum, JSONNumberComparison.compare(value, maximum) == .greater {
            report("maximum", "must be at most \(maximum)")
        }
        if let bound = node.exclusiveMinimum, JSONNumberComparison.compare(value, bound) != .greater {
            report("exclusiveMinimum", "must be greater than \(bound)")
        }
        if let bound = node.exclusiveMaximum, JSONNumberComparison.compare(value, bound) != .less {
            report("exclusiveMaximum", "must be less than \(bound)")
        }
    }

    private mutating func validateArray(_ elements: [JSONValue], _ node: SchemaNode) {
        if let minimum = node.minItems, elements.count < minimum {
            report("minItems", "must contain at least \(Self.plural(minimum, "item"))")
        }
        if let maximum = node.maxItems, elements.count > maximum {
            report("maxItems", "must contain at most \(Self.plural(maximum, "item"))")
            return
        }
        if let items = node.items {
            for (index, element) in elements.enumerated() {
                path.append(.index(index))
                validate(element, against: items)
                path.removeLast()
            }
        }
    }

    private mutating func validateObject(_ object: JSONObject, _ node: SchemaNode) {
        if let minimum = node.minProperties, object.count < minimum {
            report("minProperties", "must have at least \(Self.plural(minimum, "property", "properties"))")
        }
        if let maximum = node.maxProperties, object.count > maximum {
            report("maxProperties", "must have at most \(Self.plural(maximum, "property", "properties"))")
        }
        for name in node.required where !object.contains(key: name) {
            path.append(.key(name))
            report("required", "is required")
            path.removeLast()
        }
        for (name, member) in object {
            path.append(.key(name))
            if let propertyNames = node.propertyNames {
                validatePropertyName(name, against: propertyNames)
            }
            if let property = node.properties[CodePointKey(name)] {
                validate(member, against: property)
            } else {
                switch node.additionalProperties {
                case .allowed:
                    break
                case .forbidden:
                    report("additionalProperties", "is not allowed (unknown field)")
                case .schema(let schema):
                    validate(member, against: schema)
                }
            }
            path.removeLast()
        }
    }

    /// Checks a member's name; violations point at the member and say that its name is at fault.
    private mutating func validatePropertyName(_ name: String, against index: Int) {
        var nameValidation = SchemaValidation(nodes: nodes)
        nameValidation.validate(.string(name), against: index)
        for violation in nameValidation.violations {
            report("propertyNames", "has a name that \(violation.message)")
        }
    }

    // MARK: - Reporting

    private mutating func report(_ keyword: String, _ message: String) {
        count += 1
        guard violations.count < limit else { return }
        var pointer = ""
        for token in path {
            pointer.append("/")
            switch token {
            case .key(let key): JSONPointer.appendEscaped(key, to: &pointer)
            case .index(let index): pointer.append(String(index))
            }
        }
        violations.append(SchemaViolation(pointer: pointer, keyword: keyword, message: message))
    }

    /// Strings as they are (`public`), everything else as JSON (`42`, `null`).
    private static func describe(_ value: JSONValue) -> String {
        value.stringValue ?? value.serializedString()
    }

    private static func plural(_ count: Int, _ singular: String, _ pluralForm: String? = nil) -> String {
        "\(count) \(count == 1 ? singular : pluralForm ?? singular + "s")"
    }
}
