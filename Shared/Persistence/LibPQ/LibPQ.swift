import CLibPQ
import Foundation

/// Helpers over libpq's C API: copying results out of C memory and turning failures into `PostgresError`.
///
/// Every function here must be called on the thread that currently owns the `PGconn` (the connection's
/// serial queue, or the listener's thread); none of them blocks except where noted.
enum LibPQ {
    /// Opens a session with the blocking `PQconnectdbParams`; frees the `PGconn` again when it failed.
    ///
    /// `defaults` are settings the connection string may override (e.g. `connect_timeout`), and so are the
    /// session defaults the decoders expect (`TimeZone=UTC`, `DateStyle=ISO`); UTF-8 client encoding is
    /// forced. (Keywords before an expanded `dbname` yield to the string's settings, those after it win.)
    static func connect(
        _ connectionString: String, defaults: [(String, String)], sessionOptions: String = ""
    ) throws(PostgresError) -> OpaquePointer {
        let settings = defaults + [
            ("options", "-c TimeZone=UTC -c DateStyle=ISO,YMD" + (sessionOptions.isEmpty ? "" : " " + sessionOptions)),
            ("dbname", connectionString),
            ("client_encoding", "UTF8"),
        ]
        let keywords: [UnsafeMutablePointer<CChar>?] = settings.map { strdup($0.0) } + [nil]
        let values: [UnsafeMutablePointer<CChar>?] = settings.map { strdup($0.1) } + [nil]
        defer {
            for pointer in keywords { free(pointer) }
            for pointer in values { free(pointer) }
        }
        let keywordPointers = keywords.map { $0.map { UnsafePointer($0) } }
        let valuePointers = values.map { $0.map { UnsafePointer($0) } }
        guard let handle = PQconnectdbParams(keywordPointers, valuePointers, 1) else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = trimmed(string(PQerrorMessage(handle))) ?? "connection failed"
            PQfinish(handle)  // a failed PQconnectdb still allocated the PGconn
            throw PostgresError(code: .connectionFailed, message: message, isConnectionFailure: true)
        }
        // Statements are sent with PQsend… and awaited with poll (`collectResults`), never a blocking write.
        PQsetnonblocking(handle, 1)
        return handle
    }

    /// Quotes an identifier (channel or table name) with `PQescapeIdentifier`.
    static func quoteIdentifier(_ connection: OpaquePointer, _ identifier: String) throws(PostgresError) -> String {
        let utf8Count = identifier.utf8.count
        guard let quoted = PQescapeIdentifier(connection, identifier, utf8Count) else {
            throw PostgresError(code: .encoding, message: trimmed(string(PQerrorMessage(connection))) ?? "cannot quote identifier")
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// Copies a successful result (`PGRES_COMMAND_OK`, `PGRES_TUPLES_OK`, `PGRES_EMPTY_QUERY`) into Swift
    /// values, or converts a failed one into a `PostgresError`. Does not free `result`: callers `PQclear`
    /// in a `defer`.
    static func consume(_ result: OpaquePointer?, connection: OpaquePointer) throws(PostgresError) -> PostgresQueryResult {
        guard let result else { throw error(connection: connection) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return copy(result)
        default:
            throw error(result: result, connection: connection)
        }
    }

    /// Copies columns, values, command tag and affected-row count out of a `PGresult`.
    static func copy(_ result: OpaquePointer) -> PostgresQueryResult {
        let fieldCount = PQnfields(result)
        let rowCount = PQntuples(result)
        let columns = (0..<fieldCount).map { field in
            PostgresColumn(name: string(PQfname(result, field)) ?? "?column?", dataTypeOID: PQftype(result, field))
        }
        var rows: [PostgresRow] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(Int(fieldCount))
            for field in 0..<fieldCount {
                if PQgetisnull(result, row, field) == 1 {
                    values.append(nil)
                } else {
                    values.append(string(PQgetvalue(result, row, field)) ?? "")
                }
            }
            rows.append(PostgresRow(columns: columns, values: values))
        }
        let tag = string(PQcmdStatus(result)) ?? ""
        let affected = string(PQcmdTuples(result)).flatMap { Int($0) }
        return PostgresQueryResult(columns: columns, rows: rows, commandTag: tag, affectedRows: affected)
    }

    /// The error described by a failed result (SQLSTATE, message, detail, hint); a connection failure when
    /// the connection is now bad or the SQLSTATE says the session ended.
    static func error(result: OpaquePointer, connection: OpaquePointer?) -> PostgresError {
        let sqlState = string(rag_pq_result_sqlstate(result))
        let message = string(rag_pq_result_message(result))
            ?? trimmed(string(PQresultErrorMessage(result)))
            ?? connection.flatMap { trimmed(string(PQerrorMessage($0))) }
            ?? "unknown error"
        let connectionBad = connection.map { PQstatus($0) != CONNECTION_OK } ?? false
        let lost = connectionBad || PostgresError.isConnectionSQLState(sqlState)
        return PostgresError(
            code: lost ? .connectionLost : (sqlState == nil ? .unexpected : .server),
            sqlState: sqlState,
            message: message,
            detail: string(rag_pq_result_detail(result)),
            hint: string(rag_pq_result_hint(result)),
            isConnectionFailure: lost
        )
    }

    /// The error of a call that returned no result (out of memory, or the connection failed).
    static func error(connection: OpaquePointer) -> PostgresError {
        let message = trimmed(string(PQerrorMessage(connection))) ?? "libpq returned no result"
        let lost = PQstatus(connection) != CONNECTION_OK
        return PostgresError(code: lost ? .connectionLost : .unexpected, message: message, isConnectionFailure: lost)
    }

    /// Runs `statements` in libpq's pipeline mode: all of them are sent at once, followed by one Sync, and
    /// their results read back in order, so the whole list costs one round trip to the server. Blocks for
    /// at most `timeout` in all.
    ///
    /// A statement with parameters runs as a named prepared statement of the session (`prepared`): the first
    /// time, its Parse goes into the same pipeline just before it. Statements without parameters (`BEGIN`,
    /// `SET LOCAL …`, DDL) run unnamed.
    ///
    /// After a statement fails, the server skips the rest up to the Sync (libpq reports them as
    /// `PGRES_PIPELINE_ABORTED`); the first error is thrown. A `BEGIN` in the list then leaves the session
    /// inside a failed transaction, which the pool rolls back when the connection comes back.
    static func execPipeline(
        _ connection: OpaquePointer, _ statements: [PostgresStatement], prepared: PreparedStatements, timeout: Duration
    ) throws(PostgresError) -> [PostgresQueryResult] {
        let deadline = ContinuousClock.now + timeout
        for statement in statements { try refuseNUL(statement.parameters) }  // before anything is queued
        guard PQenterPipelineMode(connection) == 1 else { throw error(connection: connection) }
        // What the server answers, in order: a Parse's result where a statement is prepared, then each statement's.
        enum Reply { case parsed(sql: String, name: String), statement(sql: String, prepared: Bool) }
        var replies: [Reply] = []
        var parsedHere: [String: String] = [:]  // prepared earlier in this pipeline
        for statement in statements {
            var name = statement.parameters.isEmpty ? nil : prepared.name(of: statement.sql) ?? parsedHere[statement.sql]
            if name == nil, !statement.parameters.isEmpty, let fresh = prepared.reserveName() {
                guard PQsendPrepare(connection, fresh, statement.sql, Int32(statement.parameters.count), nil) == 1 else {
                    throw error(connection: connection)
                }
                replies.append(.parsed(sql: statement.sql, name: fresh))
                parsedHere[statement.sql] = fresh
                name = fresh
            }
            try send(connection, statement, preparedAs: name)
            replies.append(.statement(sql: statement.sql, prepared: name != nil))
        }
        guard PQpipelineSync(connection) == 1 else { throw error(connection: connection) }
        try flush(connection, deadline: deadline, timeout: timeout)
        var results: [PostgresQueryResult] = []
        var firstError: PostgresError?
        for reply in replies {
            // Each reply ends with a NULL from PQgetResult.
            while let result = try nextResult(connection, deadline: deadline, timeout: timeout) {
                defer { PQclear(result) }
                guard firstError == nil, PQresultStatus(result) != PGRES_PIPELINE_ABORTED else { continue }
                do throws(PostgresError) {
                    let copied = try consume(result, connection: connection)
                    switch reply {
                    case .parsed(let sql, let name): prepared.remember(sql, as: name)
                    case .statement: results.append(copied)
                    }
                } catch {
                    firstError = error
                    // A table's columns changed under a prepared `SELECT *` or `RETURNING *` (SQLSTATE 0A000,
                    // "cached plan must not change result type"): prepare it afresh next time.
                    if case .statement(let sql, true) = reply, error.sqlState == "0A000" { prepared.forget(sql) }
                }
            }
        }
        guard let sync = try nextResult(connection, deadline: deadline, timeout: timeout) else { throw error(connection: connection) }
        let synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC
        PQclear(sync)
        guard synced, PQexitPipelineMode(connection) == 1 else {
            throw firstError ?? PostgresError(code: .unexpected, message: "the pipeline did not end with its Sync", isConnectionFailure: true)
        }
        if let firstError { throw firstError }
        return results
    }

    /// C strings end at NUL, and Postgres text cannot hold it: refuse instead of silently truncating.
    private static func refuseNUL(_ parameters: [String?]) throws(PostgresError) {
        if let index = parameters.firstIndex(where: { $0?.utf8.contains(0) == true }) {
            throw PostgresError(code: .encoding, message: "parameter $\(index + 1) contains a NUL character, which Postgres text cannot store")
        }
    }

    /// Queues one statement: `PQsendQueryPrepared` when it is prepared as `name`, else `PQsendQueryParams`.
    private static func send(_ connection: OpaquePointer, _ statement: PostgresStatement, preparedAs name: String?) throws(PostgresError) {
        let owned: [UnsafeMutablePointer<CChar>?] = statement.parameters.map { $0.map { strdup($0) } }
        defer { for pointer in owned { free(pointer) } }
        let values: [UnsafePointer<CChar>?] = owned.map { $0.map { UnsafePointer($0) } }
        let count = Int32(values.count)
        let queued = if let name {
            PQsendQueryPrepared(connection, name, count, values, nil, nil, 0)
        } else {
            PQsendQueryParams(connection, statement.sql, count, nil, values, nil, nil, 0)
        }
        guard queued == 1 else { throw error(connection: connection) }
    }

    /// Runs a script of one or more statements, without parameters, through the simple query protocol
    /// (what migrations need). Returns the last statement's result. Blocks for at most `timeout`.
    @discardableResult
    static func execScript(_ connection: OpaquePointer, _ sql: String, timeout: Duration) throws(PostgresError) -> PostgresQueryResult {
        let deadline = ContinuousClock.now + timeout
        guard PQsendQuery(connection, sql) == 1 else { throw error(connection: connection) }
        return try collectResults(connection, deadline: deadline, timeout: timeout)
    }

    /// Sends what a `PQsend…` call queued and reads every result of it, waiting on the socket with `poll`
    /// so that no wait outlasts `deadline`. Returns the last result, or throws the first error.
    ///
    /// A server that stops answering without closing the connection (a hung or SIGSTOPped host, a
    /// network that drops packets) would block a plain `PQexec` for as long as TCP keeps the connection:
    /// minutes to hours. Here it becomes a `.timedOut` error with `isConnectionFailure == true`; the
    /// session is then in an unknown state (the statement may still run, or commit, later) and must not
    /// be reused: `PostgresConnection` marks it broken.
    private static func collectResults(
        _ connection: OpaquePointer, deadline: ContinuousClock.Instant, timeout: Duration
    ) throws(PostgresError) -> PostgresQueryResult {
        try flush(connection, deadline: deadline, timeout: timeout)
        var last: PostgresQueryResult?
        var firstError: PostgresError?
        while let result = try nextResult(connection, deadline: deadline, timeout: timeout) {
            defer { PQclear(result) }
            guard firstError == nil else { continue }  // drain the rest after an error
            do throws(PostgresError) {
                last = try consume(result, connection: connection)
            } catch {
                firstError = error
            }
        }
        if let firstError { throw firstError }
        guard let last else { throw error(connection: connection) }
        return last
    }

    /// Sends everything queued on the connection; in non-blocking mode PQflush returns 1 while data is left,
    /// and the server may need us to read before it accepts more.
    private static func flush(_ connection: OpaquePointer, deadline: ContinuousClock.Instant, timeout: Duration) throws(PostgresError) {
        while true {
            let flushed = PQflush(connection)
            if flushed == 0 { return }
            if flushed < 0 { throw error(connection: connection) }
            try waitForSocket(connection, events: Int16(POLLIN | POLLOUT), deadline: deadline, timeout: timeout)
            if PQconsumeInput(connection) == 0 { throw error(connection: connection) }
        }
    }

    /// The next result (the caller `PQclear`s it), or `nil` at the end of a statement's results; waits on the
    /// socket until it has arrived.
    private static func nextResult(
        _ connection: OpaquePointer, deadline: ContinuousClock.Instant, timeout: Duration
    ) throws(PostgresError) -> OpaquePointer? {
        while PQisBusy(connection) == 1 {
            try waitForSocket(connection, events: Int16(POLLIN), deadline: deadline, timeout: timeout)
            if PQconsumeInput(connection) == 0 { throw error(connection: connection) }
        }
        return PQgetResult(connection)
    }

    /// Waits until the connection's socket is ready for `events`, or throws `.timedOut` at `deadline`.
    private static func waitForSocket(
        _ connection: OpaquePointer, events: Int16, deadline: ContinuousClock.Instant, timeout: Duration
    ) throws(PostgresError) {
        let socket = PQsocket(connection)
        guard socket >= 0 else { throw error(connection: connection) }
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else {
                throw PostgresError(
                    code: .timedOut,
                    message: "Postgres did not answer within \(timeout) (host hung or unreachable); the session is abandoned",
                    isConnectionFailure: true)
            }
            var descriptor = pollfd(fd: socket, events: events, revents: 0)
            let ready = poll(&descriptor, 1, Int32(clamping: max(1, remaining.milliseconds)))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR {
                throw PostgresError(code: .connectionLost, message: "poll failed: \(String(cString: strerror(errno)))", isConnectionFailure: true)
            }
        }
    }

    static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    static func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    static func trimmed(_ text: String?) -> String? {
        guard let text else { return nil }
        let result = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return result.isEmpty ? nil : result
    }
}
