/// A schema file that could not be loaded or compiled: missing, not JSON, or using a keyword, format or
/// `$ref` this module does not support. Always names the file.
public struct SchemaRegistryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The schema file at fault, e.g. `chunk-request.v1.json`.
    public let fileName: String
    /// What is wrong with it, with the location inside the schema where there is one.
    public let message: String

    /// An error about `fileName`.
    public init(fileName: String, message: String) {
        self.fileName = fileName
        self.message = message
    }

    public var description: String { "schema file \(fileName): \(message)" }
}
