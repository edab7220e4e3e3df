/// A FIFO of transfers waiting for a concurrency slot.
///
/// Plain value type, used only inside ``CurlLoopState`` under the loop's lock. Appends and pops are
/// amortised O(1) (an index over an array, compacted when half of it is consumed); removal of a
/// cancelled waiter is O(n), which is fine for queues of thousands.
struct CurlTransferQueue {
    private var storage: [CurlTransfer] = []
    private var head = 0

    var isEmpty: Bool { head == storage.count }
    var count: Int { storage.count - head }

    mutating func append(_ transfer: CurlTransfer) {
        storage.append(transfer)
    }

    mutating func popFirst() -> CurlTransfer? {
        guard head < storage.count else { return nil }
        let transfer = storage[head]
        head += 1
        if head * 2 >= storage.count && head >= 32 {
            storage.removeFirst(head)
            head = 0
        }
        return transfer
    }

    /// Removes `transfer` if it is queued; returns whether it was.
    mutating func remove(_ transfer: CurlTransfer) -> Bool {
        guard let index = storage[head...].firstIndex(where: { $0 === transfer }) else { return false }
        storage.remove(at: index)
        return true
    }

    /// Empties the queue, returning its transfers in order.
    mutating func removeAll() -> [CurlTransfer] {
        defer {
            storage = []
            head = 0
        }
        return Array(storage[head...])
    }
}
