import CLibPQ
import Dispatch
import Foundation
public import Logging
import Synchronization

/// One session with Postgres: owns one libpq `PGconn` and the serial queue that is the only place it is used.
///
/// **Ownership.** The connection owns its `PGconn` (and the `PGcancel` used to interrupt a running
/// statement) and frees them in `close()` or, failing that, when the last reference goes away. Usually a
/// `PostgresPool` owns connections and lends them out with `withConnection`/`withTransaction`; a standalone
/// connection (from `connect(to:)`) is owned by its creator.
///
/// **Threading.** A `PGconn` may be used by one thread at a time, and libpq's calls block. Every call
/// therefore runs on this connection's own serial `DispatchQueue` — never on Swift's cooperative thread
/// pool — and the async methods suspend on a continuation until it finishes. Calls from several tasks are
/// executed one after another in arrival order; each statement is atomic, but several statements from
/// different tasks interleave, so a transaction needs exclusive use (the pool gives that).
///
/// **Cancellation.** Cancelling the calling task while a statement runs sends a cancel request to the
/// server (`PQcancel`); the statement then fails with SQLSTATE 57014. The cancel request travels on a
/// connection of its own and may arrive late, so the session is then marked unusable: a late cancel can
/// never hit the next statement of a reused connection. A statement still waiting in the queue when its
/// task is cancelled is not sent at all and throws `CancellationError`.
///
/// **Bounds.** Every statement is bounded by `callTimeout`: the server's `statement_timeout` ends a slow
/// statement (SQLSTATE 57014, the session stays usable), and the client waits on the socket for at most
/// `callTimeout` plus a grace, so a host that hangs without resetting the connection yields a `.timedOut`
/// error instead of blocking for as long as TCP keeps the connection. TCP keepalives and
/// `tcp_user_timeout` make the kernel notice a dead peer too.
///
/// **Prepared statements.** A statement with parameters is prepared on the session the first time it runs
/// there (its Parse travels in the same round trip) and reused by name afterwards, so Postgres parses it once
/// per session and may keep a generic plan (a statement that must be planned for its values says so with
/// `SET LOCAL plan_cache_mode = force_custom_plan`, as the vector search does). Up to 64 distinct statements
/// per session; more run unnamed. A connection pooler in front of Postgres must keep protocol-level prepared
/// statements per client (PgBouncer ≥ 1.21 with `max_prepared_statements`, or session pooling).
///
/// **Failures.** Errors are `PostgresError`. After an error with `isConnectionFailure`, `isUsable` is
/// `false` and the connection should be closed and replaced (the pool does this itself).
///
/// `@unchecked Sendable`: the C handles are touched only on `queue`, and the mutable bookkeeping sits
/// in a `Mutex`.
public final class PostgresConnection: @unchecked Sendable {
    /// The server process serving this session (`pg_backend_pid()`), e.g. for `pg_terminate_backend`.
    public let backendPID: Int32
    /// The server version as libpq reports it, e.g. 180003 for 18.3.
    public let serverVersion: Int
    /// The logger used for connection events and server notices (at debug level).
    public let logger: Logger
    /// The bound of every statement (see **Bounds** above).
    public let callTimeout: Duration
    /// How long the client waits for an answer: `callTimeout` plus a tenth of it, at least 1 s, so that
    /// the server's own `statement_timeout` normally ends a slow statement first.
    private var clientWait: Duration { callTimeout + max(callTimeout / 10, .seconds(1)) }

    private let handle: OpaquePointer       // PGconn *; used only on `queue`
    private let cancelHandle: OpaquePointer?  // PGcancel *; PQcancel on it is thread-safe
    private let queue: DispatchQueue
    private let noticeSink: NoticeSink
    /// The session's named prepared statements; used only on `queue`.
    private let preparedStatements = PreparedStatements()
    private let state = Mutex(State())

    private struct State {
        var isClosed = false
        var isFinished = false
        var isBroken = false
        /// Whether the session was inside a transaction block when the last operation ended (libpq's
        /// `PQtransactionStatus` then): the pool skips the trip to the queue for a connection that is not.
        var isInTransaction = false
        var nextOperation: UInt64 = 0
        /// Operations queued but not started, and those of them whose task was cancelled meanwhile.
        var pending: Set<UInt64> = []
        var cancelled: Set<UInt64> = []
        var running: UInt64?
    }

    private init(handle: OpaquePointer, queue: DispatchQueue, noticeSink: NoticeSink, callTimeout: Duration, logger: Logger) {
        self.handle = handle
        self.callTimeout = callTimeout
        self.queue = queue
        self.noticeSink = noticeSink
        self.logger = logger
        self.cancelHandle = PQgetCancel(handle)
        self.backendPID = PQbackendPID(handle)
        self.serverVersion = Int(PQserverVersion(handle))
    }

    deinit {
        let needsFinish = state.withLock { state in
            defer { state.isFinished = true }
            return !state.isFinished
        }
        guard needsFinish else { return }
        // PQfinish sends a Terminate message: do it on the connection's queue, not on whatever thread
        // dropped the last reference (which may be a cooperative-pool thread).
        let handles = UnsafeTransfer((handle, cancelHandle))
        let sink = noticeSink
        queue.async {
            if let cancel = handles.value.1 { PQfreeCancel(cancel) }
            PQfinish(handles.value.0)
            withExtendedLifetime(sink) {}
        }
    }

    /// Opens a connection.
    ///
    /// - Parameters:
    ///   - connectionString: a libpq connection URI (`postgresql://user@127.0.0.1:5432/rag?sslmode=disable`)
    ///     or a `key=value` string. Its settings win over the defaults below.
    ///   - applicationName: shown in `pg_stat_activity.application_name` unless the string sets one.
    ///   - connectTimeoutSeconds: libpq's `connect_timeout` unless the string sets one.
    ///   - callTimeout: the bound of every statement (see **Bounds** above).
    ///   - logger: receives connection events and server notices at debug level.
    /// - Throws: `PostgresError` with code `.connectionFailed` and `isConnectionFailure == true` when the
    ///   server cannot be reached or rejects the session.
    ///
    /// The session uses `TimeZone=UTC`, `DateStyle=ISO` and UTF-8 client encoding, which the value
    /// decoders rely on. The blocking connect runs on the new connection's own queue.
    public static func connect(
        to connectionString: String,
        applicationName: String = "kafka-rag",
        connectTimeoutSeconds: Int = 10,
        callTimeout: Duration = .seconds(30),
        logger: Logger = Logger(label: "persistence.postgres")
    ) async throws -> PostgresConnection {
        let queue = DispatchQueue(label: "persistence.postgres.connection")
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { () throws(PostgresError) in
                    try open(connectionString, applicationName: applicationName, connectTimeoutSeconds: connectTimeoutSeconds,
                             callTimeout: callTimeout, queue: queue, logger: logger)
                })
            }
        }
    }

    /// Runs on `queue`: the blocking `PQconnectdbParams`, and the set-up of the new session.
    private static func open(
        _ connectionString: String,
        applicationName: String,
        connectTimeoutSeconds: Int,
        callTimeout: Duration,
        queue: DispatchQueue,
        logger: Logger
    ) throws(PostgresError) -> PostgresConnection {
        let timeoutMilliseconds = String(max(callTimeout.milliseconds, 1))
        let handle = try LibPQ.connect(connectionString, defaults: [
            ("connect_timeout", String(max(connectTimeoutSeconds, 1))),
            ("application_name", applicationName),
            // A peer that vanished is noticed by the kernel: idle probes, and unacknowledged data bounded.
            ("keepalives", "1"),
            ("keepalives_idle", "10"),
            ("keepalives_interval", "5"),
            ("keepalives_count", "3"),
            ("tcp_user_timeout", timeoutMilliseconds),
        ], sessionOptions: "-c statement_timeout=\(timeoutMilliseconds)")
        let sink = NoticeSink(logger: logger)
        sink.install(on: handle)
        let connection = PostgresConnection(handle: handle, queue: queue, noticeSink: sink, callTimeout: callTimeout, logger: logger)
        logger.debug("postgres connected", metadata: ["backend-pid": "\(connection.backendPID)"])
        return connection
    }

    /// `false` once the connection was closed or lost its session; such a connection only throws.
    public var isUsable: Bool {
        state.withLock { !$0.isClosed && !$0.isBroken }
    }

    /// Runs one statement with parameters `$1`, `$2`, … given in order; `nil` is SQL NULL.
    ///
    /// Parameters travel separately from the SQL text (a prepared statement; see above), so they need no quoting and cannot
    /// inject SQL. Pass a `[Float]` to a `vector` parameter as one argument: `query(sql, embedding)`.
    /// The whole result is copied into memory before this returns.
    /// - Throws: `PostgresError`: `.server` with the SQLSTATE for a rejected statement; `.connectionLost`
    ///   (`isConnectionFailure`) when the session broke; `.encoding` for a parameter without a text form.
    @discardableResult
    public func query(_ sql: String, _ parameters: (any PostgresEncodable)?...) async throws -> PostgresQueryResult {
        try await query(sql, parameters: parameters)
    }

    /// Runs one statement with an array of parameters (for statements built at run time); see `query(_:_:)`.
    @discardableResult
    public func query(_ sql: String, parameters: [(any PostgresEncodable)?]) async throws -> PostgresQueryResult {
        try await pipeline([PostgresStatement(sql, parameters: parameters)])[0]  // a pipeline of one
    }

    /// Runs `statements` one after another in a single round trip (libpq's pipeline mode) and returns their
    /// results in order.
    ///
    /// Without `BEGIN` … `COMMIT` in the list, the statements form one implicit transaction (the extended
    /// protocol's rule up to a Sync). When one fails, the server skips those after it and its error is thrown;
    /// after a failed statement inside `BEGIN`, the session is left in the failed transaction (the pool rolls
    /// it back when it gets the connection back). Bounded like one statement: `callTimeout` for the whole list.
    public func pipeline(_ statements: [PostgresStatement]) async throws -> [PostgresQueryResult] {
        let wait = clientWait
        return try await withHandle(cancellable: true) { handle throws(PostgresError) in
            try LibPQ.execPipeline(handle, statements, prepared: self.preparedStatements, timeout: wait)
        }
    }

    /// Runs a script of one or more `;`-separated statements without parameters (simple query protocol),
    /// as migrations need. Returns the result of the last statement.
    @discardableResult
    public func executeScript(_ sql: String) async throws -> PostgresQueryResult {
        let wait = clientWait
        return try await withHandle(cancellable: true) { handle throws(PostgresError) in
            try LibPQ.execScript(handle, sql, timeout: wait)
        }
    }

    /// Closes the session (libpq's `PQfinish`, on the connection's queue). Statements queued behind it throw
    /// a `.closed` error. Idempotent.
    public func close() async {
        let shouldFinish = state.withLock { state in
            defer {
                state.isClosed = true
                state.isFinished = true
            }
            return !state.isFinished
        }
        guard shouldFinish else { return }
        let handles = UnsafeTransfer((handle, cancelHandle))
        let sink = noticeSink
        let pid = backendPID
        let logger = self.logger
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                if let cancel = handles.value.1 { PQfreeCancel(cancel) }
                PQfinish(handles.value.0)
                withExtendedLifetime(sink) {}
                logger.debug("postgres connection closed", metadata: ["backend-pid": "\(pid)"])
                continuation.resume()
            }
        }
    }

    // MARK: - Running work on the connection's queue

    /// Runs `operation` with the `PGconn` on the connection's queue and returns its value.
    ///
    /// With `cancellable`, cancelling the task sends `PQcancel` while the operation runs (or skips it if it
    /// has not started). ROLLBACK and other clean-up must pass `false`, or an already-cancelled task would
    /// cancel its own clean-up.
    func withHandle<T: Sendable>(
        cancellable: Bool,
        _ operation: @escaping @Sendable (OpaquePointer) throws(PostgresError) -> T
    ) async throws -> T {
        let token = try state.withLock { state throws(PostgresError) -> UInt64 in
            guard !state.isClosed else { throw PostgresError.closed("the connection") }
            state.nextOperation += 1
            state.pending.insert(state.nextOperation)
            return state.nextOperation
        }
        guard cancellable else {
            return try await dispatch(token: token, operation)
        }
        return try await withTaskCancellationHandler {
            try await dispatch(token: token, operation)
        } onCancel: {
            self.cancel(token)
        }
    }

    private func dispatch<T: Sendable>(
        token: UInt64,
        _ operation: @escaping @Sendable (OpaquePointer) throws(PostgresError) -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            queue.async {
                let start = self.state.withLock { state -> OperationStart in
                    state.pending.remove(token)
                    let cancelled = state.cancelled.remove(token) != nil
                    if state.isClosed { return .closed }
                    if state.isBroken { return .broken }
                    if cancelled { return .cancelled }
                    state.running = token
                    return .run
                }
                switch start {
                case .closed:
                    continuation.resume(throwing: PostgresError.closed("the connection"))
                    return
                case .cancelled:
                    continuation.resume(throwing: CancellationError())
                    return
                case .broken:
                    continuation.resume(throwing: PostgresError(
                        code: .connectionLost, message: "the session was abandoned after a timeout or a cancel request",
                        isConnectionFailure: true))
                    return
                case .run:
                    break
                }
                let result: Result<T, any Error>
                do throws(PostgresError) {
                    result = .success(try operation(self.handle))
                } catch {
                    result = .failure(error)
                }
                let broken = PQstatus(self.handle) != CONNECTION_OK
                let inTransaction = PQtransactionStatus(self.handle) != PQTRANS_IDLE
                let failed: Bool
                if case .failure(let error as PostgresError) = result { failed = error.isConnectionFailure } else { failed = false }
                self.state.withLock { state in
                    state.running = nil
                    state.isInTransaction = inTransaction
                    if broken || failed { state.isBroken = true }
                }
                if broken || failed {
                    self.logger.debug("postgres connection lost", metadata: ["backend-pid": "\(self.backendPID)"])
                }
                continuation.resume(with: result)
            }
        }
    }

    private enum OperationStart { case run, closed, cancelled, broken }

    /// Task-cancellation handler: interrupt the statement if it is running, or stop it from starting.
    /// A session that was sent a cancel request is never reused: the request may reach the server after
    /// this statement ended and would then cancel whatever the session runs next.
    private func cancel(_ token: UInt64) {
        let running = state.withLock { state -> Bool in
            if state.running == token {
                state.isBroken = true
                return true
            }
            if state.pending.contains(token) { state.cancelled.insert(token) }
            return false
        }
        guard running, let cancelHandle else { return }
        // PQcancel opens a new connection to the server and blocks: not on the caller's (pool) thread.
        let transfer = UnsafeTransfer(cancelHandle)
        DispatchQueue.global().async {
            var buffer = [CChar](repeating: 0, count: 256)
            _ = PQcancel(transfer.value, &buffer, Int32(buffer.count))
            withExtendedLifetime(self) {}  // the PGcancel is freed with the connection
        }
    }

    // MARK: - Pool support

    /// For the pool, before lending an idle connection out: reads whatever the server sent while it was
    /// idle without blocking, so a terminated session (server restart, `pg_terminate_backend`) is noticed
    /// here instead of failing the caller's first statement. Returns `false` when the session is gone.
    ///
    /// Runs on the caller's thread, not the queue: an idle connection has nothing running or queued, and
    /// holding the lock keeps the queue from starting anything meanwhile; `poll` with a zero timeout and
    /// `PQconsumeInput` do not block. A connection that is not idle is reported as gone (the pool never
    /// holds one).
    func checkAlive() -> Bool {
        state.withLock { state in
            guard !state.isClosed, !state.isBroken else { return false }
            guard state.running == nil, state.pending.isEmpty, Self.readWhileIdle(handle) else {
                state.isBroken = true
                return false
            }
            return true
        }
    }

    /// Consumes what arrived on an idle session (notices, notifications, an error before the server closed
    /// it); `false` when the session is gone.
    private static func readWhileIdle(_ handle: OpaquePointer) -> Bool {
        let socket = PQsocket(handle)
        guard socket >= 0 else { return false }
        for _ in 0..<8 {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 0)
            if ready == 0 { break }
            if ready < 0 {
                if errno == EINTR { continue }
                return false
            }
            if PQconsumeInput(handle) == 0 { return false }
            while let notification = PQnotifies(handle) { PQfreemem(notification) }
            if PQstatus(handle) != CONNECTION_OK { return false }
        }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// For the pool, when a connection comes back: ends a transaction the borrower left open (ROLLBACK).
    /// Returns `false` when the connection cannot be reused (closed, broken, or a statement still running).
    func resetForReuse() async -> Bool {
        let (usable, settled) = state.withLock { state in
            (!state.isClosed && !state.isBroken, !state.isInTransaction && state.running == nil && state.pending.isEmpty)
        }
        guard usable else { return false }
        guard !settled else { return true }  // the common case, decided without a trip to the queue
        let wait = clientWait
        let reusable = try? await withHandle(cancellable: false) { handle throws(PostgresError) -> Bool in
            guard PQstatus(handle) == CONNECTION_OK else { return false }
            switch PQtransactionStatus(handle) {
            case PQTRANS_IDLE:
                return true
            case PQTRANS_INTRANS, PQTRANS_INERROR:
                _ = try LibPQ.execScript(handle, "ROLLBACK", timeout: wait)
                return PQtransactionStatus(handle) == PQTRANS_IDLE
            default:
                return false
            }
        }
        return reusable == true
    }

    /// Runs a fixed statement that must not be cancelled by the caller's task (COMMIT, ROLLBACK).
    func executeUncancellable(_ sql: String) async throws {
        let wait = clientWait
        _ = try await withHandle(cancellable: false) { handle throws(PostgresError) in
            try LibPQ.execScript(handle, sql, timeout: wait)
        }
    }
}
