public import Logging
import Synchronization

/// A bounded pool of `PostgresConnection`s to one database, lent out one borrower at a time.
///
/// **Ownership.** The pool owns its connections: it opens them lazily (up to `maxConnections`), lends one
/// to each `withConnection`/`withTransaction` body for the body's duration, takes it back afterwards, and
/// closes them all in `close()`. A borrowed connection must not escape its body.
///
/// **Waiting.** When all connections are lent out, callers wait in FIFO order; a waiting caller whose task
/// is cancelled leaves the queue with `CancellationError`.
///
/// **Failures and recovery.** A connection that lost its session (server restart, network failure,
/// `pg_terminate_backend`) is discarded when it comes back, and an idle connection is checked without
/// blocking before it is lent out, so after Postgres comes back the next call simply works on a fresh
/// connection. While Postgres is unreachable, calls fail fast with a `PostgresError` whose
/// `isConnectionFailure` is `true`: the caller decides to pause and retry. The pool never re-runs a
/// caller's statements by itself (they may not be idempotent).
///
/// **Threading.** Thread-safe: the pool's bookkeeping is a small state machine behind a `Mutex`, and the
/// decisions it returns (hand a connection to a waiter, open a new one) run outside the lock. Blocking
/// libpq work happens on each connection's own queue. `Sendable` for those reasons.
public final class PostgresPool: Sendable {
    /// How the pool connects and how large it may grow.
    public struct Configuration: Sendable {
        /// libpq connection URI or `key=value` string, e.g. `postgresql://rag@127.0.0.1:5432/rag`.
        public var connectionString: String
        /// The most connections open at once (lent out, idle, or being opened). At least 1.
        public var maxConnections: Int
        /// `application_name` of the sessions, visible in `pg_stat_activity`.
        public var applicationName: String
        /// libpq's `connect_timeout` in seconds, unless the connection string sets one.
        public var connectTimeoutSeconds: Int
        /// The bound of every statement: the server's `statement_timeout`, and on the client a wait of at
        /// most this plus a grace of a tenth (at least 1 s) for the answer, after which the session is
        /// abandoned with a `.timedOut` error (a hung host that never resets the connection).
        public var callTimeout: Duration

        /// Creates a configuration.
        public init(
            connectionString: String,
            maxConnections: Int = 10,
            applicationName: String = "kafka-rag",
            connectTimeoutSeconds: Int = 10,
            callTimeout: Duration = .seconds(30)
        ) {
            self.connectionString = connectionString
            self.maxConnections = max(1, maxConnections)
            self.applicationName = applicationName
            self.connectTimeoutSeconds = connectTimeoutSeconds
            self.callTimeout = callTimeout
        }
    }

    /// The configuration the pool was created with.
    public let configuration: Configuration
    private let logger: Logger
    private let state: Mutex<State>

    /// Creates a pool; no connection is opened until the first call needs one.
    public init(configuration: Configuration, logger: Logger = Logger(label: "persistence.postgres.pool")) {
        self.configuration = configuration
        self.logger = logger
        self.state = Mutex(State())
    }

    /// Creates a pool for a connection string.
    public convenience init(
        connectionString: String,
        maxConnections: Int = 10,
        logger: Logger = Logger(label: "persistence.postgres.pool")
    ) {
        self.init(configuration: Configuration(connectionString: connectionString, maxConnections: maxConnections), logger: logger)
    }

    /// Lends a connection to `body` for its duration and returns `body`'s value.
    ///
    /// If `body` leaves a transaction open, it is rolled back when the connection comes back. Runs `body`
    /// in the caller's isolation (`nonisolated(nonsending)`), so `body` need not be `Sendable`.
    /// - Throws: what `body` throws; `PostgresError` with `isConnectionFailure` when no connection can be
    ///   opened; `.closed` after `close()`; `CancellationError` when cancelled while waiting.
    nonisolated(nonsending) public func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await acquire()
        let value: T
        do {
            value = try await body(connection)
        } catch {
            await release(connection)
            throw error
        }
        await release(connection)
        return value
    }

    /// Runs `body` in a transaction (`BEGIN` … `COMMIT`) on a borrowed connection; rolls back when `body`
    /// throws or the task is cancelled before the commit. See `PostgresConnection.withTransaction(_:)`.
    nonisolated(nonsending) public func withTransaction<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { connection in
            try await connection.withTransaction(body)
        }
    }

    /// Runs one statement on a borrowed connection (autocommit); see `PostgresConnection.query(_:_:)`.
    @discardableResult
    public func query(_ sql: String, _ parameters: (any PostgresEncodable)?...) async throws -> PostgresQueryResult {
        try await query(sql, parameters: parameters)
    }

    /// Runs one statement with an array of parameters on a borrowed connection (autocommit).
    @discardableResult
    public func query(_ sql: String, parameters: [(any PostgresEncodable)?]) async throws -> PostgresQueryResult {
        let statement = try PostgresStatement(sql, parameters: parameters)  // encoded before a connection is taken
        return try await withConnection { connection in
            try await connection.pipeline([statement])[0]
        }
    }

    /// Runs `statements` in one round trip on a borrowed connection; see `PostgresConnection.pipeline(_:)`.
    public func pipeline(_ statements: [PostgresStatement]) async throws -> [PostgresQueryResult] {
        try await withConnection { connection in
            try await connection.pipeline(statements)
        }
    }

    /// `SELECT pg_notify(channel, payload)` on a borrowed connection; see `PostgresConnection.notify`.
    public func notify(channel: String, payload: String = "") async throws {
        try await withConnection { connection in
            try await connection.notify(channel: channel, payload: payload)
        }
    }

    /// Counts for metrics and tests: connections open (lent out, idle or being opened), idle, and callers waiting.
    public var statistics: (open: Int, idle: Int, waiting: Int) {
        state.withLock { ($0.open, $0.idle.count, $0.waiters.count) }
    }

    /// Closes the idle connections, fails waiting callers with a `.closed` error and makes later calls throw
    /// it; connections still lent out are closed when they come back. Idempotent.
    public func close() async {
        let (idle, waiters) = state.withLock { state -> ([PostgresConnection], [Waiter]) in
            state.isClosed = true
            let taken = (state.idle, state.waiters)
            state.open -= state.idle.count
            state.idle.removeAll()
            state.waiters.removeAll()
            return taken
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: PostgresError.closed("the pool"))
        }
        for connection in idle {
            await connection.close()
        }
    }

    // MARK: - Lending

    /// What a caller gets from the state machine: an idle connection, or the right to open a new one.
    private enum Lease {
        case connection(PostgresConnection)
        case openSlot
    }

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Lease, any Error>
    }

    private struct State {
        var idle: [PostgresConnection] = []
        /// Connections that exist or are being opened: lent out + idle + opening.
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        /// Waiters whose task was cancelled before they were queued.
        var cancelledWaiters: Set<UInt64> = []
        var isClosed = false
    }

    private func acquire() async throws -> PostgresConnection {
        switch try await lease() {
        case .connection(let connection):
            if connection.checkAlive() {
                return connection
            }
            logger.debug("discarding a broken idle postgres connection", metadata: ["backend-pid": "\(connection.backendPID)"])
            await connection.close()
            // Its slot is ours now: open a replacement.
            return try await openConnection()
        case .openSlot:
            return try await openConnection()
        }
    }

    private func openConnection() async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(
                to: configuration.connectionString,
                applicationName: configuration.applicationName,
                connectTimeoutSeconds: configuration.connectTimeoutSeconds,
                callTimeout: configuration.callTimeout,
                logger: logger
            )
        } catch {
            freeSlot()
            throw error
        }
    }

    private func lease() async throws -> Lease {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        defer { _ = state.withLock { $0.cancelledWaiters.remove(id) } }
        let maxConnections = configuration.maxConnections
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Lease, any Error>) in
                let immediate = state.withLock { state -> Result<Lease, any Error>? in
                    if state.isClosed { return .failure(PostgresError.closed("the pool")) }
                    if state.cancelledWaiters.remove(id) != nil { return .failure(CancellationError()) }
                    if let connection = state.idle.popLast() { return .success(.connection(connection)) }
                    if state.open < maxConnections {
                        state.open += 1
                        return .success(.openSlot)
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                if let index = state.waiters.firstIndex(where: { $0.id == id }) {
                    return state.waiters.remove(at: index)
                }
                state.cancelledWaiters.insert(id)
                return nil
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Takes a connection back: to the longest-waiting caller, to the idle list, or closed when unusable.
    private func release(_ connection: PostgresConnection) async {
        guard await connection.resetForReuse() else {
            logger.debug("discarding a postgres connection that cannot be reused", metadata: ["backend-pid": "\(connection.backendPID)"])
            await connection.close()
            freeSlot()
            return
        }
        enum Next { case handOver(Waiter), keep, close }
        let next = state.withLock { state -> Next in
            if state.isClosed {
                state.open -= 1
                return .close
            }
            if !state.waiters.isEmpty { return .handOver(state.waiters.removeFirst()) }
            state.idle.append(connection)
            return .keep
        }
        switch next {
        case .handOver(let waiter): waiter.continuation.resume(returning: .connection(connection))
        case .keep: break
        case .close: await connection.close()
        }
    }

    /// A connection slot became free (closed, or opening failed): the longest waiter may open one.
    private func freeSlot() {
        let waiter = state.withLock { state -> Waiter? in
            if !state.isClosed, !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.open -= 1
            return nil
        }
        waiter?.continuation.resume(returning: .openSlot)
    }
}
