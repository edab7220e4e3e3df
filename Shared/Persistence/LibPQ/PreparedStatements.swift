/// The named prepared statements of one session, by SQL text: a statement with parameters is parsed (and,
/// once Postgres settles on a generic plan, planned) once per session instead of on every run.
///
/// Owned by its `PostgresConnection` and used only on the connection's queue, like the `PGconn`. Bounded:
/// beyond `capacity` distinct statements (SQL built at run time) the rest run unnamed, parsed each time.
/// Names are never reused (`rag_1`, `rag_2`, …), so a Parse whose fate is unknown cannot collide with a later one.
final class PreparedStatements {
    static let capacity = 64

    private var names: [String: String] = [:]
    private var issued = 0

    /// The name under which `sql` was prepared on this session, if it was.
    func name(of sql: String) -> String? {
        names[sql]
    }

    /// A fresh name for preparing a statement, or `nil` when the session holds `capacity` already.
    func reserveName() -> String? {
        guard names.count < Self.capacity else { return nil }
        issued += 1
        return "rag_\(issued)"
    }

    /// Records that the server accepted the Parse of `sql` as `name`.
    func remember(_ sql: String, as name: String) {
        names[sql] = name
    }

    /// Stops using the statement prepared for `sql` (it stays on the server under its name, unused).
    func forget(_ sql: String) {
        names[sql] = nil
    }
}
