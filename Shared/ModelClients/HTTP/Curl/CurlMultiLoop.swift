import CCurl
import Dispatch
import Foundation
import Logging
import Synchronization

/// One libcurl multi handle and the dedicated OS thread that drives it.
///
/// Threading: the thread (never Swift's cooperative pool) owns the multi handle and every attached
/// easy handle. It loops on `curl_multi_poll` → take commands → `curl_multi_perform` →
/// `curl_multi_info_read`. Other threads never call libcurl on these handles; they change
/// ``CurlLoopState`` under `state`'s lock and wake the thread with `curl_multi_wakeup`, the one
/// multi call libcurl documents as callable from any thread. That is why the class is
/// `@unchecked Sendable`: the raw `CURLM *` is only dereferenced on the loop thread (plus the
/// thread-safe wake-up), everything else is in a `Mutex` or atomic.
///
/// Connections live in the multi handle's cache, so keep-alive connections (and HTTP/2
/// multiplexing) are shared by all requests of one client.
final class CurlMultiLoop: @unchecked Sendable {
    private let multi: UnsafeMutableRawPointer
    private let state: Mutex<CurlLoopState>
    private let exited = DispatchSemaphore(value: 0)
    private let joined = Mutex(false)
    /// The loop thread's `pthread_t`, as bits, so `shutdown` can avoid joining itself.
    private let loopThreadID = Atomic<UInt>(0)
    private let logger: Logger

    /// Creates the multi handle and starts the thread.
    init(maxConcurrentTransfers: Int, logger: Logger) {
        CurlGlobal.ensureInitialized()
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed (out of memory)") }
        self.multi = multi
        self.state = Mutex(CurlLoopState(limit: maxConcurrentTransfers))
        self.logger = logger
        // Keep as many idle connections as there can be active transfers, so a full wave of
        // requests reuses the previous wave's connections instead of reconnecting.
        _ = rag_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(maxConcurrentTransfers, 8))
        _ = rag_curl_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))

        let thread = Thread { [self] in run() }
        thread.name = "curl-multi"
        thread.start()
    }

    // MARK: Called from any thread

    /// Hands a configured transfer to the loop (or the FIFO when every slot is taken). The transfer
    /// must already know its delivery; it is finished here if it was cancelled or the loop is closed.
    func submit(_ transfer: CurlTransfer) {
        switch state.withLock({ $0.submit(transfer) }) {
        case .wakeLoop: wake()
        case .wait: break
        case .failCancelled: transfer.fail(CancellationError())
        case .failShutdown: transfer.fail(HTTPClientError.cancelledByShutdown())
        }
    }

    /// Cancels a transfer wherever it is: a waiting one is finished here with `CancellationError`,
    /// an active one is removed by the loop thread on its next pass, a finished one is left alone.
    /// A cancellation that arrives before `submit` makes `submit` fail the transfer.
    func cancel(_ transfer: CurlTransfer) {
        switch state.withLock({ $0.cancel(transfer) }) {
        case .none: break
        case .wakeLoop: wake()
        case .failWaiting: transfer.fail(CancellationError())
        }
    }

    /// Asks the loop to unpause a streamed transfer (its consumer drained the buffer).
    func resume(_ transfer: CurlTransfer) {
        if state.withLock({ $0.resume(transfer) }) { wake() }
    }

    /// Cancels every transfer (they fail with ``HTTPClientError/Kind/cancelled``), closes the
    /// connections and waits for the thread to exit. Idempotent. Blocks the caller for at most one
    /// loop pass plus connection teardown.
    func shutdown() {
        if state.withLock({ $0.requestShutdown() }) { wake() }
        if loopThreadID.load(ordering: .acquiring) == Self.currentThreadID() { return }  // cannot join itself
        joined.withLock { joined in
            guard !joined else { return }
            exited.wait()
            joined = true
        }
    }

    /// (active, waiting) — for logs and tests.
    var load: (active: Int, waiting: Int) {
        state.withLock { ($0.activeCount, $0.waitingCount) }
    }

    private func wake() {
        _ = curl_multi_wakeup(multi)
    }

    // MARK: Loop thread

    private func run() {
        loopThreadID.store(Self.currentThreadID(), ordering: .releasing)
        var attached: [UnsafeMutableRawPointer: CurlTransfer] = [:]
        while true {
            let commands = state.withLock { $0.drain() }
            if commands.shutdown {
                tearDown(attached: attached, unstarted: commands.start + commands.abandoned)
                break
            }
            for transfer in commands.start {
                let code = curl_multi_add_handle(multi, transfer.handle)
                if code == CURLM_OK {
                    attached[transfer.handle] = transfer
                } else {
                    state.withLock { $0.release(transfer) }
                    let message = String(cString: curl_multi_strerror(code))
                    transfer.fail(HTTPClientError(kind: .other, curlCode: Int(code.rawValue), message: "curl_multi_add_handle: \(message)"))
                }
            }
            for transfer in commands.cancel {
                guard attached.removeValue(forKey: transfer.handle) != nil else { continue }
                _ = curl_multi_remove_handle(multi, transfer.handle)
                state.withLock { $0.release(transfer) }
                transfer.fail(CancellationError())
            }
            for transfer in commands.resume where attached[transfer.handle] != nil {
                // May call the write callback right here with the data held back while paused.
                _ = rag_curl_easy_unpause(transfer.handle)
            }

            var running: Int32 = 0
            let performCode = curl_multi_perform(multi, &running)
            if performCode != CURLM_OK {
                logger.error("curl_multi_perform failed", metadata: ["error": "\(String(cString: curl_multi_strerror(performCode)))"])
            }
            collectCompleted(&attached)

            // Finished transfers may have handed their slots to waiters: start those right away.
            if state.withLock({ $0.hasCommands }) { continue }
            _ = curl_multi_poll(multi, nil, 0, 1000, nil)
        }
        curl_multi_cleanup(multi)
        exited.signal()
    }

    private func collectCompleted(_ attached: inout [UnsafeMutableRawPointer: CurlTransfer]) {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            // The message is only valid until the handle is removed: copy what is needed first.
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            guard let transfer = attached.removeValue(forKey: handle) else { continue }
            _ = curl_multi_remove_handle(multi, handle)
            state.withLock { $0.release(transfer) }
            transfer.complete(code)
        }
    }

    private func tearDown(attached: [UnsafeMutableRawPointer: CurlTransfer], unstarted: [CurlTransfer]) {
        if !attached.isEmpty || !unstarted.isEmpty {
            logger.debug("HTTP client shutting down", metadata: ["active": "\(attached.count)", "waiting": "\(unstarted.count)"])
        }
        for (handle, transfer) in attached {
            _ = curl_multi_remove_handle(multi, handle)
            transfer.fail(HTTPClientError.cancelledByShutdown())
        }
        for transfer in unstarted {
            transfer.fail(HTTPClientError.cancelledByShutdown())
        }
    }

    private static func currentThreadID() -> UInt {
        #if canImport(Darwin)
        UInt(bitPattern: pthread_self())
        #else
        pthread_self()  // glibc: pthread_t is an unsigned long
        #endif
    }
}
