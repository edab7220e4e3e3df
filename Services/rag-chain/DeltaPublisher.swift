import Logging
import Messaging
import Schemas
import Synchronization

/// Publishes a streamed answer's pieces to rag.answer-deltas, in order (SPEC §3), so the asker's browser
/// shows the answer as it is written.
///
/// One record is in flight at a time (a record's acknowledgement comes before the next is sent, so their
/// order on the partition is the answer's order); pieces that arrive meanwhile are joined into the next
/// record. A fast model therefore costs a few records per answer, not one per token. Deltas are a preview:
/// if one cannot be sent, the rest are dropped with a warning and the answer still arrives whole in its
/// result.
final class DeltaPublisher: Sendable {
    private let producer: KafkaProducer
    private let topic: String
    private let queryID: String
    private let headers: [KafkaHeader]
    private let logger: Logger
    private let pending = Mutex("")
    private let wakeUps: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(producer: KafkaProducer, topic: String, queryID: String, headers: [KafkaHeader], logger: Logger) {
        self.producer = producer
        self.topic = topic
        self.queryID = queryID
        self.headers = headers
        self.logger = logger
        // Several wake-ups while a record is in flight collapse into one.
        (wakeUps, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Adds the next piece of the answer. Call `finish()` after the last one.
    func append(_ piece: String) {
        guard !piece.isEmpty else { return }
        pending.withLock { $0 += piece }
        wake.yield()
    }

    /// No more pieces: `run()` sends what is left and returns.
    func finish() {
        wake.finish()
    }

    /// Sends the pieces until `finish()`; returns how many records it sent.
    @discardableResult
    func run() async -> Int {
        var index = 0
        var failed = false
        for await _ in wakeUps {
            await sendPending(&index, &failed)
        }
        await sendPending(&index, &failed)
        return index
    }

    private func sendPending(_ index: inout Int, _ failed: inout Bool) async {
        let text = pending.withLock { text in
            defer { text = "" }
            return text
        }
        guard !text.isEmpty, !failed else { return }
        let delta = DeltaEvent(queryID: queryID, index: index, text: text)
        do {
            try await producer.send(KafkaOutgoingRecord(topic: topic, key: queryID, value: delta.encoded(), headers: headers))
            index += 1
        } catch {
            failed = true
            logger.warning("answer deltas dropped; the result carries the whole answer", metadata: ["query_id": "\(queryID)", "error": "\(error)"])
        }
    }
}
