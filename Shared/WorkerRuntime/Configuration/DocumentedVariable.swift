/// The documentation of one environment variable, independent of its value type: what `--help-env` prints
/// and the README lists.
public struct DocumentedVariable: Sendable, Equatable {
    /// The full variable name.
    public var name: String
    /// What the variable controls.
    public var summary: String
    /// What a valid value looks like.
    public var expectation: String
    /// The default as written in the environment, or `nil` when the variable is required.
    public var defaultDescription: String?
    /// Whether the value is sensitive (shown redacted in logs).
    public var isSensitive: Bool

    /// Captures the documentation of a declared variable.
    public init<Value>(_ variable: ConfigurationVariable<Value>) {
        self.name = variable.name
        self.summary = variable.summary
        self.expectation = variable.expectation
        self.defaultDescription = variable.defaultDescription
        self.isSensitive = variable.redaction != .none
    }

    /// Whether the variable must be set.
    public var isRequired: Bool { self.defaultDescription == nil }

    /// Renders variables as a Markdown table (variable, default, description), ready for the README.
    public static func markdownTable(_ variables: [DocumentedVariable]) -> String {
        func cell(_ text: String) -> String {
            String(text.flatMap { $0 == "|" ? ["\\", "|"] : [$0] })
        }
        var lines = [
            "| variable | default | description |",
            "|---|---|---|",
        ]
        for variable in variables {
            let defaultText: String
            if let value = variable.defaultDescription {
                defaultText = value.isEmpty ? "(empty)" : "`\(cell(value))`"
            } else {
                defaultText = "**required**"
            }
            let description = "\(variable.summary) Expected: \(variable.expectation)."
            lines.append("| `\(variable.name)` | \(defaultText) | \(cell(description)) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
