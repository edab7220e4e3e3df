/// One documented environment variable: its name, what it is for, what it accepts, its default, and how to
/// parse it into a `Value`.
///
/// A worker declares each variable exactly once, where it reads it (see ``ConfigurationReader/read(_:)``);
/// the same declaration drives validation, the `--help-env` table and the redacted "started" log line.
/// Build variables with the typed factories (``ConfigurationVariable/string(_:default:summary:redaction:)``,
/// ``ConfigurationVariable/integer(_:default:range:summary:)``, …) or, for a new kind of value, with
/// ``init(name:summary:expectation:defaultValue:defaultDescription:placeholder:redaction:parse:)``.
public struct ConfigurationVariable<Value: Sendable>: Sendable {
    /// The full variable name, including the shared prefix ``ConfigurationReader/prefix`` (`RAG_`).
    public let name: String
    /// One sentence saying what the variable controls, for `--help-env` and the README.
    public let summary: String
    /// What a valid value looks like, phrased to follow "expected …" (for example "an integer in 1...65535").
    public let expectation: String
    /// The value used when the variable is unset or empty; `nil` makes the variable required.
    public let defaultValue: Value?
    /// The default as a user would write it in the environment (`nil` when the variable is required).
    public let defaultDescription: String?
    /// How the value is shown in logs and error messages.
    public let redaction: ConfigurationRedaction

    /// Returned by ``ConfigurationReader/read(_:)`` for a missing or invalid value so a configuration can be
    /// assembled while problems are collected; it never escapes, because ``ConfigurationReader/validate()`` throws.
    let placeholder: Value
    /// Turns the raw text into a value, or throws the reason it is not acceptable.
    let parse: @Sendable (String) throws(ConfigurationValueRejection) -> Value

    /// Declares a variable of any type.
    ///
    /// - Parameters:
    ///   - name: Full name, starting with `RAG_`.
    ///   - summary: One sentence for the documentation table.
    ///   - expectation: What a valid value looks like, used in errors and documentation.
    ///   - defaultValue: The value when unset; `nil` makes the variable required.
    ///   - defaultDescription: The default as written in the environment; derived from `defaultValue` when omitted.
    ///   - placeholder: A value of the right type that stands in for a missing or invalid one until validation throws.
    ///   - redaction: How to show the value in logs.
    ///   - parse: Converts the trimmed raw text, throwing ``ConfigurationValueRejection`` with the reason on failure.
    public init(
        name: String,
        summary: String,
        expectation: String,
        defaultValue: Value?,
        defaultDescription: String? = nil,
        placeholder: Value,
        redaction: ConfigurationRedaction = .none,
        parse: @escaping @Sendable (String) throws(ConfigurationValueRejection) -> Value
    ) {
        assert(name.hasPrefix(ConfigurationReader.prefix), "\(name) must start with \(ConfigurationReader.prefix)")
        self.name = name
        self.summary = summary
        self.expectation = expectation
        self.defaultValue = defaultValue
        self.defaultDescription = defaultDescription ?? defaultValue.map { "\($0)" }
        self.placeholder = placeholder
        self.redaction = redaction
        self.parse = parse
    }

    /// Whether the variable must be set because it has no default.
    public var isRequired: Bool { self.defaultValue == nil }
}
