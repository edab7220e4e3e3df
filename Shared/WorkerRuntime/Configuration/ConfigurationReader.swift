/// Reads typed values from environment variables and collects every problem instead of stopping at the first.
///
/// Usage: read every variable with ``read(_:)``, which always returns a value (a stand-in when the variable
/// is missing or invalid), then call ``validate()``, which throws one ``ConfigurationError`` naming every
/// offending variable. Nothing read before a successful `validate()` may be used.
///
/// The reader also records each variable it was asked for, so reading a configuration against an empty
/// environment documents it (``documentation``): read every variable unconditionally, not depending on the
/// value of another, so the documentation is complete.
///
/// An empty value counts as unset, as it does in most container tooling (`RAG_X=` means "use the default").
public struct ConfigurationReader: Sendable {
    /// The prefix every variable of this product shares.
    public static let prefix = "RAG_"

    private let environment: [String: String]
    private var readNames: Set<String> = []

    /// The problems found so far, in reading order.
    public private(set) var problems: [ConfigurationError.Problem] = []
    /// Every variable read so far, in reading order, once each.
    public private(set) var documentation: [DocumentedVariable] = []
    /// The effective value of every variable read so far, as it may be shown in logs (sensitive values redacted),
    /// keyed by variable name.
    public private(set) var effectiveValues: [String: String] = [:]

    /// Creates a reader over the given environment, usually `ProcessInfo.processInfo.environment`.
    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// Reads one variable: its parsed value, its default when unset or empty, or — recording a problem — a
    /// stand-in when it is required but missing or when its value is invalid.
    public mutating func read<Value>(_ variable: ConfigurationVariable<Value>) -> Value {
        let firstRead = self.readNames.insert(variable.name).inserted
        if firstRead {
            self.documentation.append(DocumentedVariable(variable))
        }

        let raw = self.environment[variable.name]?.trimmingWhitespace() ?? ""
        if raw.isEmpty {
            if let defaultValue = variable.defaultValue {
                if firstRead {
                    self.effectiveValues[variable.name] = variable.defaultDescription.map { variable.redaction.apply(to: $0) } ?? ""
                }
                return defaultValue
            }
            if firstRead {
                self.problems.append(
                    .init(variable: variable.name, issue: "is required but not set", expectation: variable.expectation)
                )
            }
            return variable.placeholder
        }

        do {
            let value = try variable.parse(raw)
            if firstRead {
                self.effectiveValues[variable.name] = variable.redaction.apply(to: raw)
            }
            return value
        } catch {
            if firstRead {
                let shown = variable.redaction == .none ? "\"\(raw)\"" : "the value"
                self.problems.append(
                    .init(variable: variable.name, issue: "\(shown) \(error.reason)", expectation: variable.expectation)
                )
            }
            return variable.placeholder
        }
    }

    /// Records a problem that involves more than one variable, or a rule a single parser cannot check.
    public mutating func report(_ problem: ConfigurationError.Problem) {
        self.problems.append(problem)
    }

    /// Throws one ``ConfigurationError`` listing every problem recorded, or returns if there is none.
    public func validate() throws(ConfigurationError) {
        if !self.problems.isEmpty {
            throw ConfigurationError(problems: self.problems)
        }
    }

    /// Variables in the environment that carry the product prefix but were never read — usually typos.
    public var unrecognizedVariables: [String] {
        self.environment.keys
            .filter { $0.hasPrefix(Self.prefix) && !self.readNames.contains($0) }
            .sorted()
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = self.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
