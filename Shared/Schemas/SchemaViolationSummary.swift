/// The violations of one value, bounded: the first `limit` in full and how many there were in all.
///
/// A request body can break its schema in hundreds of thousands of places (a 1 MiB array of empty
/// objects); a caller that answers with the violations lists the first ones and the count, so the answer
/// stays small however bad the input is.
public struct SchemaViolationSummary: Sendable, Hashable {
    /// The first violations, in validation order (at most the limit asked for).
    public var violations: [SchemaViolation]
    /// How many violations were found in all, including those not listed.
    public var totalCount: Int

    public init(violations: [SchemaViolation], totalCount: Int) {
        self.violations = violations
        self.totalCount = totalCount
    }

    /// No violation at all.
    public var isEmpty: Bool { totalCount == 0 }
}
