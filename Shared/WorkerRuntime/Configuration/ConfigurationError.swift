/// Every problem found in a worker's environment, reported together so an operator fixes them in one go.
///
/// Thrown by ``ConfigurationReader/validate()``. Its ``description`` names each offending variable, what
/// was wrong and what is expected, one per line; workers print it to standard error and exit with status 2.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One offending variable.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// The full name of the variable, for example `RAG_ADMIN_PORT`.
        public var variable: String
        /// What is wrong: "is required but not set", or the value (redacted if sensitive) and why it was rejected.
        public var issue: String
        /// What a valid value looks like.
        public var expectation: String

        /// Creates a problem report for one variable.
        public init(variable: String, issue: String, expectation: String) {
            self.variable = variable
            self.issue = issue
            self.expectation = expectation
        }

        /// `RAG_ADMIN_PORT: "abc" is not an integer; expected a TCP port in 0...65535`.
        public var description: String {
            "\(self.variable): \(self.issue); expected \(self.expectation)"
        }
    }

    /// The problems, in the order the variables were read.
    public var problems: [Problem]

    /// Creates an error from the collected problems.
    public init(problems: [Problem]) {
        self.problems = problems
    }

    /// The names of the offending variables, in order.
    public var variables: [String] { self.problems.map(\.variable) }

    /// A multi-line message: a headline, then one problem per line.
    public var description: String {
        let headline = self.problems.count == 1
            ? "invalid configuration: 1 problem"
            : "invalid configuration: \(self.problems.count) problems"
        return ([headline] + self.problems.map { "  - \($0)" }).joined(separator: "\n")
    }
}
