/// An error from Postgres or from this library's use of libpq.
///
/// A struct with an open `code` rather than a large enum, so new kinds need no API change. Server errors
/// carry the SQLSTATE (`sqlState`, e.g. `42601` syntax error, `23505` unique violation) and the server's
/// primary message, detail and hint.
///
/// `isConnectionFailure` is the question workers ask: `true` means the database could not be reached or
/// the session was lost (server down or restarting, network failure, backend terminated) — pause, keep
/// offsets where they are and retry later; the connection that saw it is discarded by `PostgresPool`.
/// `false` means the statement itself failed (bad SQL, constraint violation, bad data) and retrying the
/// same statement will fail the same way.
///
/// A value type without references, hence `Sendable`.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Open for extension: compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// A short stable name, e.g. `server` or `connectionFailed`.
        public let name: String

        /// Could not open a connection (refused, unknown host, authentication rejected, timeout).
        public static let connectionFailed = Code(name: "connectionFailed")
        /// An open connection broke while in use (server restart, terminated backend, network loss).
        public static let connectionLost = Code(name: "connectionLost")
        /// The server rejected the statement; `sqlState` says why.
        public static let server = Code(name: "server")
        /// A value could not be decoded into the requested Swift type.
        public static let decoding = Code(name: "decoding")
        /// A value could not be encoded as a parameter (e.g. a non-finite float in a vector).
        public static let encoding = Code(name: "encoding")
        /// The connection, pool or listener was closed by its owner.
        public static let closed = Code(name: "closed")
        /// A schema migration could not be applied (bad file name, changed checksum, …).
        public static let migration = Code(name: "migration")
        /// The server did not answer within the call's bound (a hung host, a network dropping packets); the
        /// session was abandoned. A connection failure: retry later.
        public static let timedOut = Code(name: "timedOut")
        /// libpq reported something this library does not expect.
        public static let unexpected = Code(name: "unexpected")

        /// The code's name.
        public var description: String { name }
    }

    /// The kind of failure.
    public let code: Code
    /// The five-character SQLSTATE the server sent, when it sent one.
    public let sqlState: String?
    /// The primary human-readable message.
    public let message: String
    /// Optional secondary detail from the server (e.g. which key violated a constraint).
    public let detail: String?
    /// Optional hint from the server.
    public let hint: String?
    /// `true` when the database is unreachable or the session was lost — retry later, not a bad statement.
    public let isConnectionFailure: Bool

    /// Creates an error; `isConnectionFailure` defaults from the code and the SQLSTATE.
    public init(
        code: Code,
        sqlState: String? = nil,
        message: String,
        detail: String? = nil,
        hint: String? = nil,
        isConnectionFailure: Bool? = nil
    ) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.isConnectionFailure = isConnectionFailure
            ?? (code == .connectionFailed || code == .connectionLost || PostgresError.isConnectionSQLState(sqlState))
    }

    /// `true` when the statement failed because of the data it carried, so the same data will fail the same
    /// way however often it is retried: SQLSTATE class 22 (data exception: a string with U+0000 in jsonb,
    /// a value out of range, invalid text for a type) and class 23 (integrity constraint violation), or a
    /// parameter this library cannot encode. A worker sends such a record to rag.dlq and moves on.
    ///
    /// Everything else is retried with the record kept: connection failures and timeouts, class 40
    /// (serialization failure, deadlock), 53 (insufficient resources), 57 (operator intervention: cancel,
    /// shutdown), 58 (system error), and also errors that are the deployment's fault rather than the
    /// record's (42: a missing table or column) — those stall the partition visibly instead of
    /// dead-lettering every record.
    public var isDataRejection: Bool {
        if code == .encoding { return true }
        guard code == .server, let sqlState else { return false }
        return sqlState.hasPrefix("22") || sqlState.hasPrefix("23")
    }

    /// Code, SQLSTATE, message, detail and hint in one line, for logs.
    public var description: String {
        var text = "Postgres error (\(code)"
        if let sqlState { text += " \(sqlState)" }
        text += "): \(message)"
        if let detail { text += " — detail: \(detail)" }
        if let hint { text += " — hint: \(hint)" }
        return text
    }

    /// Well-known SQLSTATEs, for readable comparisons: `error.sqlState == PostgresError.SQLState.uniqueViolation`.
    public enum SQLState {
        /// `unique_violation`: an INSERT/UPDATE hit a unique index.
        public static let uniqueViolation = "23505"
        /// `foreign_key_violation`.
        public static let foreignKeyViolation = "23503"
        /// `check_violation`: a CHECK constraint rejected the row.
        public static let checkViolation = "23514"
        /// `not_null_violation`.
        public static let notNullViolation = "23502"
        /// `syntax_error` in the SQL text.
        public static let syntaxError = "42601"
        /// `undefined_table`: no such table or view.
        public static let undefinedTable = "42P01"
        /// `undefined_column`.
        public static let undefinedColumn = "42703"
        /// `serialization_failure`: retry the whole transaction.
        public static let serializationFailure = "40001"
        /// `deadlock_detected`: retry the whole transaction.
        public static let deadlockDetected = "40P01"
        /// `query_canceled`: cancelled by the client (task cancellation) or `statement_timeout`.
        public static let queryCanceled = "57014"
        /// `admin_shutdown`: the server is shutting down or the session was terminated.
        public static let adminShutdown = "57P01"
        /// `crash_shutdown`: another server process crashed.
        public static let crashShutdown = "57P02"
        /// `cannot_connect_now`: the server is starting up or shutting down.
        public static let cannotConnectNow = "57P03"
        /// `too_many_connections`.
        public static let tooManyConnections = "53300"
    }

    /// Class 08 (connection exception) and the shutdown/startup states of class 57 mean the session is gone
    /// or the server is not accepting sessions yet; `too_many_connections` clears up by itself as well.
    static func isConnectionSQLState(_ sqlState: String?) -> Bool {
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08")
            || sqlState == SQLState.adminShutdown
            || sqlState == SQLState.crashShutdown
            || sqlState == SQLState.cannotConnectNow
            || sqlState == SQLState.tooManyConnections
    }

    static func closed(_ what: String) -> PostgresError {
        PostgresError(code: .closed, message: "\(what) is closed", isConnectionFailure: false)
    }

    static func decoding(_ message: String) -> PostgresError {
        PostgresError(code: .decoding, message: message, isConnectionFailure: false)
    }
}
