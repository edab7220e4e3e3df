/// An error raised while loading or running the MiniLM sentence-embedding model.
///
/// A struct with an extensible ``Code`` rather than a closed enum, so that new failure kinds can be
/// added without breaking callers. ``path`` names the file or directory involved, when there is one.
public struct MiniLMError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String

        /// The model directory, or a file it must contain, does not exist or cannot be read.
        public static let modelNotFound = Code(name: "modelNotFound")
        /// A model file exists but is malformed (bad JSON, truncated or inconsistent safetensors, …).
        public static let invalidModelFile = Code(name: "invalidModelFile")
        /// The files are well formed but describe a model this implementation does not run.
        public static let unsupportedModel = Code(name: "unsupportedModel")
        /// A caller-supplied argument is out of range (for example a batch size of zero).
        public static let invalidArgument = Code(name: "invalidArgument")

        public var description: String { name }
    }

    /// The kind of failure.
    public let code: Code
    /// The file or directory the failure is about, if any.
    public let path: String?
    /// A human-readable explanation.
    public let message: String

    /// Creates an error; `path` is included in ``description`` when present.
    public init(_ code: Code, path: String? = nil, _ message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String {
        if let path { return "MiniLM \(code): \(message) [\(path)]" }
        return "MiniLM \(code): \(message)"
    }
}
