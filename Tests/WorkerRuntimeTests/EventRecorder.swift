import Synchronization

/// An ordered, thread-safe list of what happened, for tests that check the order of lifecycle events.
final class EventRecorder: Sendable {
    private let events = Mutex<[String]>([])

    func record(_ event: String) {
        self.events.withLock { $0.append(event) }
    }

    var all: [String] {
        self.events.withLock { $0 }
    }

    /// Waits (polling) until `condition` holds for the recorded events, or the timeout passes.
    func wait(
        timeout: Duration = .seconds(45),
        until condition: ([String]) -> Bool
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(self.all) { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition(self.all)
    }
}
