import CLibPQ
import Foundation
public import Logging
import Synchronization

/// Receives Postgres `NOTIFY`s on a dedicated connection and thread, as an `AsyncStream`.
///
/// **Ownership.** The listener owns one `PGconn` and one thread, both private to it; `start()` creates the
/// thread, `stop()` (or releasing the listener) ends it, closes the connection and finishes
/// `notifications`.
///
/// **Threading.** The thread waits with `poll(2)` on the connection's socket and on a wake-up pipe (so
/// `listen`, `unlisten` and `stop` take effect at once), reads with `PQconsumeInput` and hands each
/// `PQnotifies` entry to the stream. No libpq call runs on Swift's cooperative pool. The public methods are
/// thread-safe; `Sendable` because all mutable state sits in the thread or behind a `Mutex`.
///
/// **Reconnection.** When the connection is lost (server restart, network failure) the thread reconnects
/// with exponential backoff and issues `LISTEN` again for every channel. Notifications sent while it was
/// disconnected are lost — that is how LISTEN/NOTIFY works — so consumers treat a notification as a
/// wake-up hint and also poll (e.g. the outbox relay re-reads unpublished rows after `connectionGeneration`
/// changes and on a timer).
public final class PostgresListener: Sendable {
    /// The notifications, in the order the server delivered them. Single consumer. Finishes after `stop()`.
    /// Buffers up to `bufferSize` notifications for a slow consumer, then drops the oldest.
    public let notifications: AsyncStream<PostgresNotification>
    private let core: ListenerCore

    /// Creates a stopped listener; call `start()`.
    ///
    /// - Parameters:
    ///   - connectionString: libpq URI or `key=value` string.
    ///   - channels: channels to `LISTEN` on from the start (more with `listen(_:)`).
    ///   - reconnectDelay: first wait after a failed (re)connect; doubles up to `maxReconnectDelay`.
    ///   - bufferSize: notifications kept for a consumer that is behind.
    public init(
        connectionString: String,
        channels: Set<String> = [],
        applicationName: String = "kafka-rag-listener",
        reconnectDelay: Duration = .milliseconds(250),
        maxReconnectDelay: Duration = .seconds(5),
        bufferSize: Int = 10_000,
        logger: Logger = Logger(label: "persistence.postgres.listener")
    ) {
        let (stream, continuation) = AsyncStream.makeStream(
            of: PostgresNotification.self,
            bufferingPolicy: .bufferingNewest(max(1, bufferSize))
        )
        notifications = stream
        core = ListenerCore(
            connectionString: connectionString,
            channels: channels,
            applicationName: applicationName,
            reconnectDelay: reconnectDelay,
            maxReconnectDelay: maxReconnectDelay,
            continuation: continuation,
            logger: logger
        )
    }

    deinit {
        core.stop()
    }

    /// Starts the listener thread (idempotent). It connects, issues `LISTEN` for the channels and delivers.
    public func start() {
        core.start()
    }

    /// Starts listening on `channel` as well (takes effect on the listener thread at once).
    public func listen(_ channel: String) {
        core.update { $0.insert(channel) }
    }

    /// Stops listening on `channel`.
    public func unlisten(_ channel: String) {
        core.update { $0.remove(channel) }
    }

    /// Suspends until the listener is connected and every channel requested so far is `LISTEN`ed, so that a
    /// `NOTIFY` sent afterwards is received. Returns at once when that is already the case.
    /// - Throws: `PostgresError` (`.closed`) when the listener is stopped first; `CancellationError`.
    public func waitUntilListening() async throws {
        try await core.waitUntilListening()
    }

    /// `true` while connected with every requested channel `LISTEN`ed.
    public var isListening: Bool {
        core.isListening
    }

    /// How many times the listener has (re)established its `LISTEN`s: 1 after the first connection, +1 after
    /// each reconnection. A change means notifications may have been missed in between.
    public var connectionGeneration: Int {
        core.connectionGeneration
    }

    /// Stops the thread, closes the connection and finishes `notifications`. Idempotent.
    public func stop() {
        core.stop()
    }
}

/// The listener's state shared between its thread and the public methods.
///
/// `@unchecked Sendable`: the `PGconn` lives only in `run()`'s local variables on the listener thread;
/// the pipe descriptors are immutable after init; everything else mutable is behind `state`.
private final class ListenerCore: @unchecked Sendable {
    private let connectionString: String
    private let applicationName: String
    private let reconnectDelay: Duration
    private let maxReconnectDelay: Duration
    private let continuation: AsyncStream<PostgresNotification>.Continuation
    private let logger: Logger
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let state: Mutex<State>

    private struct State {
        var channels: Set<String>
        var channelsVersion = 0
        var listenedVersion = -1
        var isConnected = false
        var isStarted = false
        var isStopped = false
        var generation = 0
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        var nextWaiterID: UInt64 = 0

        var isListening: Bool { isConnected && listenedVersion == channelsVersion }
    }

    init(
        connectionString: String,
        channels: Set<String>,
        applicationName: String,
        reconnectDelay: Duration,
        maxReconnectDelay: Duration,
        continuation: AsyncStream<PostgresNotification>.Continuation,
        logger: Logger
    ) {
        self.connectionString = connectionString
        self.applicationName = applicationName
        self.reconnectDelay = reconnectDelay
        self.maxReconnectDelay = max(reconnectDelay, maxReconnectDelay)
        self.continuation = continuation
        self.logger = logger
        self.state = Mutex(State(channels: channels))
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
            _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    deinit {
        if wakeRead >= 0 { close(wakeRead) }
        if wakeWrite >= 0 { close(wakeWrite) }
    }

    var isListening: Bool { state.withLock { $0.isListening } }
    var connectionGeneration: Int { state.withLock { $0.generation } }

    func start() {
        let shouldStart = state.withLock { state -> Bool in
            guard !state.isStarted, !state.isStopped else { return false }
            state.isStarted = true
            return true
        }
        guard shouldStart else { return }
        let thread = Thread { [self] in run() }
        thread.name = "postgres-listener"
        thread.start()
    }

    func stop() {
        let (wasRunning, waiters) = state.withLock { state -> (Bool, [CheckedContinuation<Void, any Error>]) in
            guard !state.isStopped else { return (false, []) }
            state.isStopped = true
            let waiters = Array(state.waiters.values)
            state.waiters.removeAll()
            return (state.isStarted, waiters)
        }
        for waiter in waiters { waiter.resume(throwing: PostgresError.closed("the listener")) }
        if wasRunning {
            wake()  // the thread finishes the stream on its way out
        } else {
            continuation.finish()
        }
    }

    func update(_ change: (inout Set<String>) -> Void) {
        state.withLock { state in
            let before = state.channels
            change(&state.channels)
            if state.channels != before { state.channelsVersion += 1 }
        }
        wake()
    }

    func waitUntilListening() async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let immediate = state.withLock { state -> Result<Void, any Error>? in
                    if state.isStopped { return .failure(PostgresError.closed("the listener")) }
                    if state.isListening { return .success(()) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    private func wake() {
        guard wakeWrite >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func drainWakeups() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    /// Waits up to `timeoutMilliseconds` on the wake-up pipe (and `socket` when given); returns whether the
    /// socket became readable or failed.
    private func waitForInput(socket: Int32?, timeoutMilliseconds: Int32) -> Bool {
        var descriptors = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        if let socket { descriptors.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        let ready = poll(&descriptors, nfds_t(descriptors.count), timeoutMilliseconds)
        guard ready > 0 else { return false }
        if descriptors[0].revents != 0 { drainWakeups() }
        return descriptors.count > 1 && descriptors[1].revents != 0
    }

    // MARK: - The listener thread

    private func run() {
        var connection: OpaquePointer?
        var listened: Set<String> = []
        var delay = reconnectDelay
        var failures = 0
        var freshConnection = false
        let sink = NoticeSink(logger: logger)

        func disconnect(_ reason: String) {
            if let handle = connection {
                PQfinish(handle)
                logger.warning("postgres listener lost its connection; reconnecting", metadata: ["reason": "\(reason)"])
            }
            connection = nil
            listened = []
            state.withLock { $0.isConnected = false }
        }

        while !state.withLock({ $0.isStopped }) {
            guard let handle = connection else {
                do {
                    let handle = try LibPQ.connect(connectionString, defaults: [
                        ("connect_timeout", "10"),
                        ("application_name", applicationName),
                        ("keepalives", "1"),
                        ("keepalives_idle", "30"),
                        ("keepalives_interval", "10"),
                        ("keepalives_count", "3"),
                    ])
                    sink.install(on: handle)
                    connection = handle
                    freshConnection = true
                    delay = reconnectDelay
                    if failures > 0 { logger.info("postgres listener reconnected", metadata: ["attempts": "\(failures)"]) }
                    failures = 0
                    state.withLock { $0.isConnected = true }
                } catch {
                    failures += 1
                    if failures == 1 || failures % 20 == 0 {
                        logger.warning("postgres listener cannot connect; retrying", metadata: ["error": "\(error)", "attempts": "\(failures)"])
                    }
                    _ = waitForInput(socket: nil, timeoutMilliseconds: Self.milliseconds(delay))
                    delay = min(delay * 2, maxReconnectDelay)
                }
                continue
            }

            // Bring the LISTENs in line with the requested channels.
            let (wanted, version) = state.withLock { ($0.channels, $0.channelsVersion) }
            do throws(PostgresError) {
                for channel in wanted.subtracting(listened).sorted() {
                    try LibPQ.execScript(handle, "LISTEN " + LibPQ.quoteIdentifier(handle, channel), timeout: Self.statementTimeout)
                    listened.insert(channel)
                }
                for channel in listened.subtracting(wanted).sorted() {
                    try LibPQ.execScript(handle, "UNLISTEN " + LibPQ.quoteIdentifier(handle, channel), timeout: Self.statementTimeout)
                    listened.remove(channel)
                }
            } catch {
                if error.isConnectionFailure || PQstatus(handle) != CONNECTION_OK {
                    disconnect("\(error)")
                } else {
                    logger.error("postgres listener could not LISTEN", metadata: ["error": "\(error)"])
                    _ = waitForInput(socket: nil, timeoutMilliseconds: Self.milliseconds(maxReconnectDelay))
                }
                continue
            }
            markListened(version, freshConnection: freshConnection)
            freshConnection = false

            deliverNotifications(handle)
            let socket = PQsocket(handle)
            guard socket >= 0 else {
                disconnect("no socket")
                continue
            }
            // The timeout is a safety net only: the pipe wakes us for changes and stop.
            if waitForInput(socket: socket, timeoutMilliseconds: 5_000) {
                if PQconsumeInput(handle) == 0 {
                    disconnect(LibPQ.trimmed(LibPQ.string(PQerrorMessage(handle))) ?? "connection closed")
                    continue
                }
            }
            deliverNotifications(handle)
            if PQstatus(handle) != CONNECTION_OK {
                disconnect(LibPQ.trimmed(LibPQ.string(PQerrorMessage(handle))) ?? "connection bad")
            }
        }

        if let handle = connection { PQfinish(handle) }
        withExtendedLifetime(sink) {}
        state.withLock { $0.isConnected = false }
        continuation.finish()
    }

    /// Records that the channels of `version` are LISTENed; a fresh connection counts as a new generation.
    /// Resumes `waitUntilListening` callers once nothing newer was requested meanwhile.
    private func markListened(_ version: Int, freshConnection: Bool) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            if freshConnection { state.generation += 1 }
            state.listenedVersion = version
            guard state.isListening else { return [] }
            let waiters = Array(state.waiters.values)
            state.waiters.removeAll()
            return waiters
        }
        for waiter in ready { waiter.resume() }
    }

    private func deliverNotifications(_ handle: OpaquePointer) {
        while let pointer = PQnotifies(handle) {
            let notification = PostgresNotification(
                channel: String(cString: pointer.pointee.relname),
                payload: pointer.pointee.extra.map { String(cString: $0) } ?? "",
                senderPID: pointer.pointee.be_pid
            )
            PQfreemem(pointer)
            continuation.yield(notification)
        }
    }

    /// The bound of a LISTEN/UNLISTEN: a hung server makes the listener reconnect instead of waiting for ever.
    private static let statementTimeout: Duration = .seconds(30)

    private static func milliseconds(_ duration: Duration) -> Int32 {
        Int32(clamping: max(duration.milliseconds, 1))
    }
}
