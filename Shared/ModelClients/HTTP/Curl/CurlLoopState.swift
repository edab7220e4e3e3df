/// The bookkeeping of ``CurlMultiLoop`` that other threads touch: concurrency slots, the FIFO of
/// waiting transfers and the commands for the loop thread.
///
/// A plain value kept in the loop's `Mutex`. Its methods only update bookkeeping and return what
/// to do; the caller does it (resume continuations, wake the loop, call libcurl) after releasing the
/// lock — never while holding it, because finishing a transfer can run deinitialisers that come
/// back to the loop.
///
/// A transfer is in exactly one place: queued in `waiting`, or holding a slot (`slotted`: handed to
/// the loop thread through `toStart`, then attached to the multi handle), or gone. Whoever removes it
/// from its place finishes it, so each transfer is finished exactly once.
struct CurlLoopState {
    /// What the loop thread takes on each pass.
    struct Commands {
        var start: [CurlTransfer] = []
        var cancel: [CurlTransfer] = []
        var resume: [CurlTransfer] = []
        /// Set once, on the pass after shutdown was requested; `abandoned` are the transfers that
        /// never reached the multi handle and must be failed.
        var shutdown = false
        var abandoned: [CurlTransfer] = []
    }

    enum SubmitAction {
        /// A slot was free: the transfer is queued for the loop thread, which must be woken.
        case wakeLoop
        /// All slots are taken: the transfer waits its turn.
        case wait
        /// Its task was cancelled before submission: finish it with `CancellationError`.
        case failCancelled
        /// The client is shut down: finish it with ``HTTPClientError/Kind/cancelled``.
        case failShutdown
    }

    enum CancelAction {
        case none
        /// The loop holds it: a cancel command is queued, wake the loop.
        case wakeLoop
        /// It was still waiting for a slot and has been dequeued: finish it with `CancellationError`.
        case failWaiting
    }

    let limit: Int
    private var slotted: Set<ObjectIdentifier> = []
    private var waiting = CurlTransferQueue()
    private var commands = Commands()
    private var shutdownRequested = false
    private var closed = false

    init(limit: Int) {
        self.limit = limit
    }

    var hasCommands: Bool {
        !commands.start.isEmpty || !commands.cancel.isEmpty || !commands.resume.isEmpty || shutdownRequested && !closed
    }

    var activeCount: Int { slotted.count }
    var waitingCount: Int { waiting.count }

    mutating func submit(_ transfer: CurlTransfer) -> SubmitAction {
        if shutdownRequested { return .failShutdown }
        if transfer.isCancelRequested { return .failCancelled }
        if slotted.count < limit {
            slotted.insert(ObjectIdentifier(transfer))
            commands.start.append(transfer)
            return .wakeLoop
        }
        waiting.append(transfer)
        return .wait
    }

    /// Marks the transfer cancelled (under this lock, so `submit` sees it) and locates it.
    mutating func cancel(_ transfer: CurlTransfer) -> CancelAction {
        transfer.markCancelRequested()
        if waiting.remove(transfer) { return .failWaiting }
        guard slotted.contains(ObjectIdentifier(transfer)), !closed else { return .none }
        commands.cancel.append(transfer)
        return .wakeLoop
    }

    /// Asks the loop to unpause a streamed transfer whose consumer caught up.
    mutating func resume(_ transfer: CurlTransfer) -> Bool {
        guard slotted.contains(ObjectIdentifier(transfer)), !closed else { return false }
        commands.resume.append(transfer)
        return true
    }

    /// Frees the slot of a transfer the loop has finished or failed, and hands it to the longest
    /// waiter, which joins the next batch of starts (the loop thread calls this, so no wake-up).
    mutating func release(_ transfer: CurlTransfer) {
        slotted.remove(ObjectIdentifier(transfer))
        guard !shutdownRequested, let next = waiting.popFirst() else { return }
        slotted.insert(ObjectIdentifier(next))
        commands.start.append(next)
    }

    /// Returns false if shutdown had already been requested.
    mutating func requestShutdown() -> Bool {
        defer { shutdownRequested = true }
        return !shutdownRequested
    }

    /// Hands the queued commands to the loop thread.
    mutating func drain() -> Commands {
        var taken = commands
        commands = Commands()
        if shutdownRequested && !closed {
            closed = true
            taken.shutdown = true
            taken.abandoned = waiting.removeAll()
        }
        return taken
    }
}
