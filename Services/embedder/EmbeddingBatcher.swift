/// Gathers items submitted one at a time by concurrent record handlers into batches of at most `maxSize`,
/// waiting at most `maxWait` after the first item, and hands each batch to `process`; every submitter
/// gets its own item's result back.
actor EmbeddingBatcher<Item: Sendable, Outcome: Sendable> {
    typealias Process = @Sendable ([Item]) async -> [Result<Outcome, any Error>]

    private let maxSize: Int
    private let maxWait: Duration
    private let process: Process
    private var pending: [(item: Item, continuation: CheckedContinuation<Outcome, any Error>)] = []
    private var timer: Task<Void, Never>?

    init(maxSize: Int, maxWait: Duration, process: @escaping Process) {
        self.maxSize = maxSize
        self.maxWait = maxWait
        self.process = process
    }

    func submit(_ item: Item) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((item, continuation))
            if pending.count >= maxSize {
                flush()
            } else if timer == nil {
                let wait = maxWait
                timer = Task { [weak self] in
                    try? await Task.sleep(for: wait)
                    await self?.flushAfterWait()
                }
            }
        }
    }

    private func flushAfterWait() {
        timer = nil
        flush()
    }

    private func flush() {
        timer?.cancel()
        timer = nil
        guard !pending.isEmpty else { return }
        let batch = pending
        pending = []
        let process = process
        Task {
            let results = await process(batch.map(\.item))
            for (entry, result) in zip(batch, results) { entry.continuation.resume(with: result) }
        }
    }
}
