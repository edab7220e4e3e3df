/// Exact comparison of JSON numbers across `.integer` and `.double`, without rounding an `Int` to a
/// `Double` (which would make 2^53 + 1 equal to 2^53).
enum JSONNumberComparison {
    enum Order { case less, equal, greater }

    /// The order of two numbers; `nil` when either is not a number or is NaN.
    static func compare(_ lhs: JSONValue, _ rhs: JSONValue) -> Order? {
        switch (lhs, rhs) {
        case (.integer(let a), .integer(let b)):
            return a < b ? .less : (a == b ? .equal : .greater)
        case (.double(let a), .double(let b)):
            if a.isNaN || b.isNaN { return nil }
            return a < b ? .less : (a == b ? .equal : .greater)
        case (.integer(let a), .double(let b)):
            return compare(integer: a, double: b)
        case (.double(let a), .integer(let b)):
            return compare(integer: b, double: a).map { order in
                switch order {
                case .less: .greater
                case .equal: .equal
                case .greater: .less
                }
            }
        default:
            return nil
        }
    }

    /// Compares `integer` with `double` exactly.
    static func compare(integer: Int, double: Double) -> Order? {
        if double.isNaN { return nil }
        // 2^63 is exactly representable; every Int is below it and at or above -2^63.
        if double >= 9_223_372_036_854_775_808.0 { return .less }
        if double < -9_223_372_036_854_775_808.0 { return .greater }
        let whole = double.rounded(.down)
        let wholeInt = Int(whole)  // exact: |whole| < 2^63 and integral
        if integer < wholeInt { return .less }
        if integer > wholeInt { return .greater }
        return double > whole ? .less : .equal
    }
}
