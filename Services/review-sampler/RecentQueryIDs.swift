import DequeModule
import Synchronization

/// The query_ids sampled most recently, at most `capacity` of them (the oldest forgotten first): a result
/// published again — the outbox relay publishes at least once — adds no second review item.
///
/// Memory only, per process. After a restart, a replay or a rebalance, a result seen again is sampled again
/// into the very same item (same key, same bytes), which the compacted rag.human-review keeps once.
/// Safe from any task; the consumer runs one record per query_id at a time (it orders by key), so a check
/// and the insert after the item is acknowledged cannot interleave for one query.
final class RecentQueryIDs: Sendable {
    private struct State {
        var members: Set<String> = []
        var order: Deque<String> = []
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        precondition(capacity > 0, "capacity must be positive")
        self.capacity = capacity
    }

    func contains(_ queryID: String) -> Bool {
        state.withLock { $0.members.contains(queryID) }
    }

    /// Remembers `queryID`, forgetting the oldest one when full.
    func insert(_ queryID: String) {
        state.withLock { state in
            guard state.members.insert(queryID).inserted else { return }
            state.order.append(queryID)
            if state.order.count > capacity, let oldest = state.order.popFirst() {
                state.members.remove(oldest)
            }
        }
    }

    var count: Int { state.withLock { $0.members.count } }
}
