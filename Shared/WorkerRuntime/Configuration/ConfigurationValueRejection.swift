/// Why a raw environment value was rejected by a ``ConfigurationVariable``'s parser.
///
/// The reason is a short phrase that reads after the value, for example "is not an integer" or
/// "is out of range"; the reader adds the variable name and the expectation.
public struct ConfigurationValueRejection: Error, Sendable, Equatable {
    /// A short phrase describing what is wrong with the value.
    public var reason: String

    /// Creates a rejection with the phrase describing what is wrong.
    public init(_ reason: String) {
        self.reason = reason
    }
}
