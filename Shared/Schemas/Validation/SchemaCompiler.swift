/// Compiles schema documents into a table of `SchemaNode`s, checking every keyword once, then resolves
/// `$ref`s across documents (by `$id`) and within them (`#/$defs/…`, any JSON pointer to a subschema).
///
/// Only the keywords listed in `compileObject` are accepted; any other keyword (say `oneOf`) is an error
/// rather than being silently ignored, so a schema can never appear to check something it does not.
struct SchemaCompiler {
    static let draft202012 = "https://json-schema.org/draft/2020-12/schema"

    /// Keywords that only annotate: accepted and ignored by validation.
    private static let annotationKeywords: Set<String> = [
        "$comment", "title", "description", "examples", "deprecated", "readOnly", "writeOnly",
    ]

    private(set) var nodes: [SchemaNode] = []
    /// `<document $id>#<JSON pointer>` of every compiled subschema → its node index.
    private var nodeByLocation: [String: Int] = [:]
    /// File name of each document, by `$id`.
    private var fileByID: [String: String] = [:]
    private var pendingReferences: [PendingReference] = []

    private struct PendingReference {
        let node: Int
        let reference: String
        let documentID: String
        let fileName: String
        let pointer: String
    }

    /// The document being compiled.
    private struct Context {
        let fileName: String
        let documentID: String
    }

    /// Compiles one schema document and returns its root node's index. Its `$ref`s are resolved by
    /// `resolveReferences()` once every document has been added.
    mutating func addDocument(_ document: JSONValue, fileName: String) throws(SchemaRegistryError) -> Int {
        guard case .object(let root) = document else {
            throw SchemaRegistryError(fileName: fileName, message: "the schema document must be a JSON object")
        }
        guard root["$schema"]?.stringValue == Self.draft202012 else {
            throw SchemaRegistryError(fileName: fileName, message: "\"$schema\" must be \"\(Self.draft202012)\"")
        }
        guard let id = root["$id"]?.stringValue, id.contains("://") else {
            throw SchemaRegistryError(fileName: fileName, message: "\"$id\" must be an absolute URI")
        }
        if let other = fileByID[id] {
            throw SchemaRegistryError(fileName: fileName, message: "\"$id\" \(id) is already used by \(other)")
        }
        fileByID[id] = fileName
        return try compile(document, at: .root, context: Context(fileName: fileName, documentID: id))
    }

    // MARK: - Keywords

    private mutating func compile(_ schema: JSONValue, at pointer: JSONPointer, context: Context) throws(SchemaRegistryError) -> Int {
        let index = nodes.count
        nodes.append(SchemaNode(location: "\(context.fileName)#\(pointer)"))
        nodeByLocation["\(context.documentID)#\(pointer)"] = index
        switch schema {
        case .bool(true):
            break
        case .bool(false):
            nodes[index].rejectsEverything = true
        case .object(let object):
            nodes[index] = try compileObject(object, node: nodes[index], index: index, at: pointer, context: context)
        default:
            throw failure("a schema must be an object or a boolean", at: pointer, context)
        }
        return index
    }

    private mutating func compileObject(
        _ object: JSONObject, node: SchemaNode, index: Int, at pointer: JSONPointer, context: Context
    ) throws(SchemaRegistryError) -> SchemaNode {
        var node = node
        for (keyword, value) in object {
            let here = pointer.appending(keyword)
            switch keyword {
            case "$schema", "$id":
                guard pointer.tokens.isEmpty else {
                    throw failure("\"\(keyword)\" is only supported at the document root", at: here, context)
                }
            case _ where Self.annotationKeywords.contains(keyword):
                break
            case "default":
                node.defaultValue = value
            case "$defs":
                guard case .object(let definitions) = value else {
                    throw failure("\"$defs\" must be an object of schemas", at: here, context)
                }
                for (name, definition) in definitions {
                    _ = try compile(definition, at: here.appending(name), context: context)
                }
            case "$ref":
                guard let reference = value.stringValue else {
                    throw failure("\"$ref\" must be a string", at: here, context)
                }
                pendingReferences.append(PendingReference(
                    node: index, reference: reference, documentID: context.documentID,
                    fileName: context.fileName, pointer: here.description
                ))
            case "type":
                node.types = try typeSet(value, at: here, context)
            case "enum":
                guard case .array(let values) = value, !values.isEmpty else {
                    throw failure("\"enum\" must be a non-empty array", at: here, context)
                }
                node.enumValues = values
            case "const":
                node.constValue = value
            case "properties":
                guard case .object(let properties) = value else {
                    throw failure("\"properties\" must be an object of schemas", at: here, context)
                }
                for (name, property) in properties {
                    let child = try compile(property, at: here.appending(name), context: context)
                    node.properties[CodePointKey(name)] = child
                    node.propertyOrder.append((name, child))
                }
            case "required":
                guard case .array(let names) = value, names.allSatisfy({ $0.stringValue != nil }),
                    Set(names).count == names.count
                else {
                    throw failure("\"required\" must be an array of distinct strings", at: here, context)
                }
                node.required = names.compactMap(\.stringValue)
            case "additionalProperties":
                switch value {
                case .bool(true): node.additionalProperties = .allowed
                case .bool(false): node.additionalProperties = .forbidden
                default: node.additionalProperties = .schema(try compile(value, at: here, context: context))
                }
            case "propertyNames":
                node.propertyNames = try compile(value, at: here, context: context)
            case "items":
                guard value.objectValue != nil || value.boolValue != nil else {
                    throw failure("\"items\" must be a schema (draft 2020-12 uses prefixItems for tuples)", at: here, context)
                }
                node.items = try compile(value, at: here, context: context)
            case "minItems": node.minItems = try count(value, at: here, context)
            case "maxItems": node.maxItems = try count(value, at: here, context)
            case "minLength": node.minLength = try count(value, at: here, context)
            case "maxLength": node.maxLength = try count(value, at: here, context)
            case "minProperties": node.minProperties = try count(value, at: here, context)
            case "maxProperties": node.maxProperties = try count(value, at: here, context)
            case "minimum": node.minimum = try number(value, at: here, context)
            case "maximum": node.maximum = try number(value, at: here, context)
            case "exclusiveMinimum": node.exclusiveMinimum = try number(value, at: here, context)
            case "exclusiveMaximum": node.exclusiveMaximum = try number(value, at: here, context)
            case "pattern":
                guard let source = value.stringValue else {
                    throw failure("\"pattern\" must be a string", at: here, context)
                }
                do {
                    node.pattern = try SchemaPattern(source)
                } catch {
                    throw failure(error.message, at: here, context)
                }
            case "format":
                guard let name = value.stringValue, let format = SchemaFormat(rawValue: name) else {
                    throw failure(
                        "unsupported format \(value); supported: \(SchemaFormat.uuid.rawValue), \(SchemaFormat.dateTime.rawValue)",
                        at: here, context
                    )
                }
                node.format = format
            default:
                throw failure("unsupported keyword \"\(keyword)\"", at: here, context)
            }
        }
        if case .forbidden = node.additionalProperties {
            for name in node.required where node.properties[CodePointKey(name)] == nil {
                throw failure(
                    "\"\(name)\" is required but not declared in \"properties\", and additionalProperties is false",
                    at: pointer, context
                )
            }
        }
        return node
    }

    private func typeSet(_ value: JSONValue, at pointer: JSONPointer, _ context: Context) throws(SchemaRegistryError) -> JSONTypeSet {
        let names: [JSONValue]
        switch value {
        case .string: names = [value]
        case .array(let elements) where !elements.isEmpty: names = elements
        default: throw failure("\"type\" must be a type name or a non-empty array of them", at: pointer, context)
        }
        var types: JSONTypeSet = []
        for name in names {
            guard let typeName = name.stringValue, let type = JSONTypeSet(name: typeName), !types.contains(type) else {
                throw failure("\"type\" has an unknown or repeated type name \(name)", at: pointer, context)
            }
            types.insert(type)
        }
        return types
    }

    private func count(_ value: JSONValue, at pointer: JSONPointer, _ context: Context) throws(SchemaRegistryError) -> Int {
        guard let count = value.intValue, count >= 0 else {
            throw failure("\"\(pointer.tokens.last ?? "")\" must be a non-negative integer", at: pointer, context)
        }
        return count
    }

    private func number(_ value: JSONValue, at pointer: JSONPointer, _ context: Context) throws(SchemaRegistryError) -> JSONValue {
        guard value.isNumber else {
            throw failure("\"\(pointer.tokens.last ?? "")\" must be a number", at: pointer, context)
        }
        return value
    }

    private func failure(_ message: String, at pointer: JSONPointer, _ context: Context) -> SchemaRegistryError {
        SchemaRegistryError(fileName: context.fileName, message: "at #\(pointer): \(message)")
    }

    // MARK: - References

    /// Resolves every `$ref` to a node index and rejects `$ref` cycles that would never consume input.
    mutating func resolveReferences() throws(SchemaRegistryError) {
        for pending in pendingReferences {
            nodes[pending.node].reference = try resolve(pending)
        }
        for start in nodes.indices {
            var seen: Set<Int> = [start]
            var current = start
            while let next = nodes[current].reference {
                guard seen.insert(next).inserted else {
                    let fileName = String(nodes[start].location.prefix { $0 != "#" })
                    throw SchemaRegistryError(
                        fileName: fileName, message: "at \(nodes[start].location): circular \"$ref\" chain"
                    )
                }
                current = next
            }
        }
    }

    private func resolve(_ pending: PendingReference) throws(SchemaRegistryError) -> Int {
        func fail(_ message: String) -> SchemaRegistryError {
            SchemaRegistryError(
                fileName: pending.fileName, message: "at #\(pending.pointer): \"$ref\" \"\(pending.reference)\" \(message)"
            )
        }
        let parts = pending.reference.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        let target = String(parts[0])
        let fragment = parts.count > 1 ? String(parts[1]) : ""

        let documentID: String
        if target.isEmpty {
            documentID = pending.documentID
        } else if target.contains("://") {
            documentID = target
        } else {
            guard !target.hasPrefix("/"), !target.split(separator: "/").contains("..") else {
                throw fail("must be a file name relative to the schema's $id, or an absolute URI")
            }
            let relative = target.hasPrefix("./") ? String(target.dropFirst(2)) : target
            let base = pending.documentID.prefix(through: pending.documentID.lastIndex(of: "/")!)
            documentID = String(base) + relative
        }
        guard fileByID[documentID] != nil else {
            throw fail("names no loaded schema (resolved to \(documentID))")
        }

        guard fragment.isEmpty || fragment.hasPrefix("/"), let decoded = Self.percentDecoded(fragment),
            let pointer = try? JSONPointer(parsing: decoded)
        else {
            throw fail("has a fragment that is not a JSON pointer (anchors are not supported)")
        }
        guard let node = nodeByLocation["\(documentID)#\(pointer)"] else {
            throw fail("points to no subschema")
        }
        return node
    }

    /// Undoes URI percent-encoding (`%25` → `%`) in a fragment; `nil` for a malformed escape.
    static func percentDecoded(_ text: String) -> String? {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) else {
                return nil
            }
            utf8.removeFirst(2)
            bytes.append(value)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
