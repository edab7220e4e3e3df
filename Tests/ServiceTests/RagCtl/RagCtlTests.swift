import FakeModelServer
import Foundation
import Messaging
import ModelClients
import Persistence
import TestSupport
import Testing

/// `ragctl` run as a child process, as an operator would, against the real local broker, the gateway, the
/// embedder, the rag-chain and the outbox-relay (each a process), with the fake model server as the provider.
@Suite("ragctl: ingest, query, dlq, lag and replay against the running platform", .serialized, .timeLimit(.minutes(8)))
struct RagCtlTests {
    /// A temporary folder of documents: Markdown with nested sections and a plain text file.
    static func writeDocuments() throws -> String {
        let directory = NSTemporaryDirectory() + "ragctl-docs-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory + "/ops", withIntermediateDirectories: true)
        try """
            # Handbook

            Welcome to the handbook of the platform team.

            ## Keys

            Signing keys are rotated every ninety days by the security team.

            ### Emergency rotation

            A leaked key is revoked at once and a new one is published in the key set.
            """.write(toFile: directory + "/handbook.md", atomically: true, encoding: .utf8)
        try "Parking permits are issued by the facilities team on the second floor.\n"
            .write(toFile: directory + "/ops/parking notes.txt", atomically: true, encoding: .utf8)
        return directory
    }

    /// The options that point ragctl at a harness's gateway and development key.
    static func gatewayOptions(_ gateway: GatewayHarness) -> [String] {
        ["--gateway", gateway.url(""), "--keys-dir", gateway.directory + "/keys"]
    }

    @Test("ingest --dry-run: Markdown chunks start with their section's heading path, long sections overlap")
    func chunking() async throws {
        let directory = try Self.writeDocuments()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let long = (0..<40).map { "Sentence number \($0) of the long section." }.joined(separator: " ")
        try "# Top\n\n## Long\n\n\(long)\n".write(toFile: directory + "/long.md", atomically: true, encoding: .utf8)
        let result = try await RagCtlRunner.run(["ingest", directory, "--dry-run", "--chunk-size", "300", "--overlap", "60"])
        try #require(result.status == 0, "\(result)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.contains("handbook.md (\(directory)/handbook.md): 3 chunks"), "\(result.output)")
        #expect(lines.contains("  [0] # Handbook⏎⏎Welcome to the handbook of the platform team."))
        #expect(lines.contains("  [1] # Handbook⏎## Keys⏎⏎Signing keys are rotated every ninety days by the security team."))
        #expect(lines.contains("  [2] # Handbook⏎## Keys⏎### Emergency rotation⏎⏎A leaked key is revoked at once and a new one is published in the key set."))
        #expect(lines.contains { $0.hasPrefix("ops/parking-notes.txt (") }, "doc_id from the relative path, space replaced")
        let longChunks = lines.filter { $0.hasPrefix("  [") && $0.contains("# Top⏎## Long⏎⏎") }
        #expect(longChunks.count >= 6, "every chunk of the section starts with its heading path: \(longChunks)")
        // Consecutive chunks share text: each one after the first starts with words the one before ended with.
        let bodies = longChunks.map { $0.components(separatedBy: "# Top⏎## Long⏎⏎")[1] }
        for (previous, next) in zip(bodies, bodies.dropFirst()) {
            #expect(previous.contains(next.prefix(30)), "overlap: \(previous) | \(next)")
            #expect(previous.count <= 300 && !previous.hasPrefix(" "))
        }
        #expect(bodies.first?.hasPrefix("Sentence number 0 ") == true && bodies.last?.hasSuffix("Sentence number 39 of the long section.") == true)
    }

    @Test("ingest stores a folder's chunks (headings kept), a re-run skips them, a changed file is sent again; query --stream prints the answer as it streams, then citations")
    func ingestAndQuery() async throws {
        let controls = FakeModelServer.Controls(tokenDelayMilliseconds: 150, answerTemplate: "Permits come from facilities [1].")
        let harness = try await RagChainHarness(provider: .fake(controls),
                                                environment: ["RAG_RETRIEVAL_MIN_SCORE": "0.9", "RAG_CHAT_PROVIDER": "openai", "RAG_CHAT_MODEL": "fake-chat"])
        try await harness.startRelay()
        let gateway = harness.gateway
        let directory = try Self.writeDocuments()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ingest = ["ingest", directory, "--visibility", "public", "--tenant", "acme", "--user", "ingest-bot",
                      "--state-file", directory + "/.state/ingest.json"] + Self.gatewayOptions(gateway)

        let first = try await RagCtlRunner.run(ingest)
        try #require(first.status == 0, "\(first)")
        #expect(first.output.contains("[1/2] handbook.md: sent 3 chunks"), "\(first.output)")
        #expect(first.output.contains("[2/2] ops/parking-notes.txt: sent 1 chunks"), "\(first.output)")
        try await harness.pipeline.waitForRows(4, timeout: .seconds(60))
        let rows = try await harness.pool.query("SELECT doc_id, seq, text, tenant, visibility FROM chunks ORDER BY doc_id, seq")
        var stored: [String] = []
        for row in rows {
            stored.append("\(try row.decode(String.self, at: 0))#\(try row.decode(Int.self, at: 1)) \(try row.decode(String.self, at: 2))")
            #expect(try row.decode(String.self, at: 3) == "acme" && row.decode(String.self, at: 4) == "public")
        }
        #expect(stored == [
            "handbook.md#0 # Handbook\n\nWelcome to the handbook of the platform team.",
            "handbook.md#1 # Handbook\n## Keys\n\nSigning keys are rotated every ninety days by the security team.",
            "handbook.md#2 # Handbook\n## Keys\n### Emergency rotation\n\nA leaked key is revoked at once and a new one is published in the key set.",
            "ops/parking-notes.txt#0 Parking permits are issued by the facilities team on the second floor.",
        ])
        let records = try await gateway.recordCount(gateway.topics.chunks)
        #expect(records == 4)

        // A re-run sends nothing.
        let second = try await RagCtlRunner.run(ingest)
        try #require(second.status == 0, "\(second)")
        #expect(second.output.contains("[1/2] handbook.md: skipped"), "\(second.output)")
        #expect(second.output.contains("[2/2] ops/parking-notes.txt: skipped"), "\(second.output)")
        #expect(second.output.contains("done: 0 documents sent (0 chunks), 2 skipped, 0 failed"))
        try await Task.sleep(for: .seconds(1))
        #expect(try await gateway.recordCount(gateway.topics.chunks) == records, "nothing produced on the re-run")

        // A changed file is sent again; the other is still skipped.
        try "Parking permits are issued by the facilities team on the third floor.\n"
            .write(toFile: directory + "/ops/parking notes.txt", atomically: true, encoding: .utf8)
        let third = try await RagCtlRunner.run(ingest)
        try #require(third.status == 0, "\(third)")
        #expect(third.output.contains("[1/2] handbook.md: skipped") && third.output.contains("[2/2] ops/parking-notes.txt: sent 1 chunks"), "\(third.output)")
        try await eventually("the changed chunk is stored") {
            (try? await harness.chunkID(ofText: "Parking permits are issued by the facilities team on the third floor.")) != nil
        }

        // The question is the chunk's own text: the fake embedding matches it exactly.
        let question = "Parking permits are issued by the facilities team on the third floor."
        let chunkID = try await harness.chunkID(ofText: question)
        let query = try RagCtlRunner(start: ["query", question, "--tier", "free", "--tenant", "acme", "--user", "carol", "--stream"]
                                     + Self.gatewayOptions(gateway), directory: gateway.directory)
        // Seen mid-stream: part of the answer printed, the citations (printed after the result) not yet.
        var sawPartialAnswer = false
        try await eventually("the answer starts streaming", timeout: .seconds(60)) {
            let output = query.output
            if output.hasPrefix("Permits") && !output.contains("citations:") { sawPartialAnswer = true }
            return sawPartialAnswer || !query.isRunning
        }
        let outcome = try await query.finish()
        #expect(sawPartialAnswer, "the answer was printed before the result arrived")
        try #require(outcome.status == 0, "\(outcome)")
        let lines = outcome.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "Permits come from facilities [1].", "\(outcome.output)")
        #expect(lines.contains("citations:"))
        #expect(lines.contains { $0.hasPrefix("  ops/parking-notes.txt  chunk \(chunkID)  score 1.000") }, "\(outcome.output)")
        #expect(lines.contains { $0.hasPrefix("model: fake-chat") && $0.contains("status: answered") }, "\(outcome.output)")
        #expect(outcome.errors.contains("query "), "the query id on stderr")

        // A tier that may not see anything that matches gets the refusal (exit 2).
        let refused = try await RagCtlRunner.run(["query", "Something nobody wrote down at all.", "--tier", "free", "--tenant", "acme"]
                                                 + Self.gatewayOptions(gateway))
        #expect(refused.status == 2 && refused.output.contains("status: refused"), "\(refused)")
    }

    @Test("dlq: a chunk the provider failed lands in rag.dlq; list and show it; after the provider is fixed, redrive stores it")
    func deadLetterRedrive() async throws {
        let pipeline = try await PipelineHarness(provider: .fake(.init()), environment: ["RAG_EMBEDDING_MAX_ATTEMPTS": "2"])
        let server = try #require(pipeline.fakeServer)
        let gateway = pipeline.gateway
        let kafka = ["--bootstrap-servers", gateway.bootstrap]
        try await pipeline.post(PipelineHarness.corpus(6, perDocument: 2))
        try await pipeline.waitForRows(6)

        let poison = "This chunk meets a provider outage."
        _ = try server.updateControls { $0.failOnText = [poison: 503] }
        try await pipeline.post([(docID: "outage-doc", seq: 0, text: poison, visibility: "public")])
        try await eventually("the chunk is dead-lettered") { try await gateway.recordCount(gateway.topics.deadLetters) == 1 }

        let list = try await RagCtlRunner.run(["dlq", "list", "--stage", "embedder"] + kafka)
        try #require(list.status == 0, "\(list)")
        let row = try #require(list.output.split(separator: "\n").first { $0.contains("embedding_failed") }, "\(list.output)")
        let columns = row.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        #expect(columns[1] == "embedder" && columns[2] == "embedding_failed" && columns[3].hasPrefix("rag.chunks["), "\(row)")
        #expect(row.contains("503"), "the error text: \(row)")
        #expect(list.output.contains("1 dead letter(s) matching"))
        let position = columns[0]
        let none = try await RagCtlRunner.run(["dlq", "list", "--reason", "schema_violation"] + kafka)
        #expect(none.status == 0 && none.output.contains("0 dead letter(s) matching"), "\(none)")

        let show = try await RagCtlRunner.run(["dlq", "show", position] + kafka)
        try #require(show.status == 0, "\(show)")
        for expected in ["dlq-stage", "dlq-reason", "embedding_failed", "dlq-error", "original-topic", "rag.chunks", "original-offset",
                         "attempts", "tenant", "acme", "key:   outage-doc", "\"text\" : \"\(poison)\""] {
            #expect(show.output.contains(expected), "show lacks \(expected): \(show.output)")
        }
        let missing = try await RagCtlRunner.run(["dlq", "show", "0:999"] + kafka)
        #expect(missing.status != 0 && missing.errors.contains("no record at 0:999"), "\(missing)")
        let unselected = try await RagCtlRunner.run(["dlq", "redrive"] + kafka)
        #expect(unselected.status != 0, "redrive without a selection refuses: \(unselected)")
        #expect(try await pipeline.rowCount() == 6)

        // The provider recovers; the dead letter goes back to rag.chunks and is stored.
        _ = try server.updateControls { $0.failOnText = [:] }
        let redrive = try await RagCtlRunner.run(["dlq", "redrive", "--stage", "embedder", "--reason", "embedding_failed"] + kafka)
        try #require(redrive.status == 0, "\(redrive)")
        #expect(redrive.output.contains("rag.dlq[\(position.split(separator: ":")[0])]@\(position.split(separator: ":")[1]) (embedder/embedding_failed, key outage-doc) → rag.chunks["),
                "\(redrive.output)")
        #expect(redrive.output.contains("redrove 1 of 1 record(s)"))
        try await pipeline.waitForRows(7)
        let stored = try await pipeline.pool.query("SELECT tenant FROM chunks WHERE doc_id = 'outage-doc' AND seq = 0").singleRow().decode(String.self, at: 0)
        #expect(stored == "acme", "the trusted headers went back with the record")
        let sent = try await gateway.records(gateway.topics.chunks, count: 8).filter { $0.keyString == "outage-doc" }
        #expect(sent.count == 2, "the first delivery and the redriven one")
        #expect(sent.allSatisfy { $0.headers.value("tenant") == "acme" && !$0.headers.contains { DLQHeaders.isBookkeeping($0.name) } },
                "the redriven record carries its trusted headers and no DLQ bookkeeping")
    }

    @Test("lag matches the embedder's kafka_consumer_lag; replay refuses while the group has a member, rewinds (to a time, to earliest) once it is stopped")
    func lagAndReplay() async throws {
        // Held requests are answered after 20 s, within the call timeout: no retries, no dead letters.
        let pipeline = try await PipelineHarness(provider: .fake(.init(hangSeconds: 20)), environment: ["RAG_EMBEDDING_TIMEOUT": "30s"])
        let server = try #require(pipeline.fakeServer)
        let gateway = pipeline.gateway
        let kafka = ["--bootstrap-servers", gateway.bootstrap]
        let first = (0..<30).map { (docID: "doc-\($0)", seq: 0, text: "First batch, document \($0).", visibility: "public") }
        try await pipeline.post(first)
        try await pipeline.waitForRows(30)
        try await eventually("every partition committed to its end") {
            let committed = try await pipeline.committedOffsets()
            return committed.count == 3 && committed.values.allSatisfy { $0 != nil } && committed.values.reduce(0) { $0 + ($1 ?? 0) } == 30
        }

        // Work waiting: the provider holds every request, so nothing is done and nothing committed.
        _ = try server.updateControls { $0.rateHang = 1 }
        try await Task.sleep(for: .milliseconds(50))
        let betweenBatches = Date()
        try await Task.sleep(for: .milliseconds(50))
        let second = (0..<9).map { (docID: "doc-\($0 * 7 + 3)", seq: 1, text: "Second batch, part \($0).", visibility: "public") }
        try await pipeline.post(second)
        try await eventually("ragctl lag equals kafka_consumer_lag on every partition, 9 records in all") {
            let metric = try await embedderLag(pipeline)
            let shown = try await ragctlLag(kafka)
            return metric == shown && shown.values.reduce(0, +) == 9
        }
        let table = try await RagCtlRunner.run(["lag", "--group", "embedder"] + kafka)
        #expect(table.output.contains("embedder  rag.chunks  total") && table.output.split(separator: "\n").last?.hasSuffix(" 9") == true, "\(table.output)")

        // The provider recovers (the held requests are answered): all done, both say 0.
        _ = try server.updateControls { $0.rateHang = 0 }
        try await pipeline.waitForRows(39, timeout: .seconds(60))
        try await eventually("no lag left, by both measures") {
            let metric = try await embedderLag(pipeline)
            let shown = try await ragctlLag(kafka)
            return metric == shown && shown.count == 3 && shown.values.allSatisfy { $0 == 0 }
        }

        // The embedder is a member of its group: replay refuses and moves nothing.
        let before = try await pipeline.committedOffsets()
        let refused = try await RagCtlRunner.run(["replay", "--group", "embedder", "--to", "earliest"] + kafka)
        #expect(refused.status != 0 && refused.errors.contains("refusing"), "\(refused)")
        #expect(try await pipeline.committedOffsets() == before, "no offset moved")

        // Stopped (it leaves the group): to a time between the batches, then to the earliest records.
        pipeline.embedder.stop()
        try await eventually("the embedder exits") { !pipeline.embedder.isRunning }
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let toTime = try await RagCtlRunner.run(["replay", "--group", "embedder", "--to", iso.string(from: betweenBatches)] + kafka)
        try #require(toTime.status == 0, "\(toTime)")
        #expect(toTime.output.contains("committed: 3 of 3 partitions"), "\(toTime.output)")
        #expect(try await ragctlLag(kafka).values.reduce(0, +) == 9, "exactly the second batch is to be read again")

        let toEarliest = try await RagCtlRunner.run(["replay", "--group", "embedder", "--to", "earliest"] + kafka)
        try #require(toEarliest.status == 0, "\(toEarliest)")
        let rewound = try await pipeline.committedOffsets()
        #expect(rewound.values.allSatisfy { $0 == 0 }, "every partition back at its first record: \(rewound)")
        #expect(try await ragctlLag(kafka).values.reduce(0, +) == 39)

        // Started again, the embedder reads everything again (the rows are upserts: still 39).
        try await pipeline.killAndRestartEmbedder()
        try await eventually("the replay is consumed and committed") {
            try await pipeline.committedOffsets().values.reduce(0) { $0 + ($1 ?? 0) } == 39
        }
        #expect(try await pipeline.rowCount() == 39)
    }

    enum DLQHeaders {
        static func isBookkeeping(_ name: String) -> Bool { name.hasPrefix("dlq-") || name.hasPrefix("original-") || name == "attempts" }
    }

    /// `ragctl lag --group embedder --json`: lag by partition.
    private func ragctlLag(_ kafka: [String]) async throws -> [Int32: Int64] {
        let result = try await RagCtlRunner.run(["lag", "--group", "embedder", "--json"] + kafka)
        try #require(result.status == 0, "\(result)")
        var lag: [Int32: Int64] = [:]
        for line in result.output.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            lag[Int32(try #require(object["partition"] as? Int))] = Int64(try #require(object["lag"] as? Int))
        }
        return lag
    }

    /// The embedder's `kafka_consumer_lag` series for rag.chunks, by partition.
    private func embedderLag(_ pipeline: PipelineHarness) async throws -> [Int32: Int64] {
        let response = try await pipeline.gateway.http.execute(HTTPRequest(url: "http://127.0.0.1:\(pipeline.embedderAdminPort)/metrics"))
        var lag: [Int32: Int64] = [:]
        for line in String(decoding: response.body, as: UTF8.self).split(separator: "\n")
        where line.hasPrefix("kafka_consumer_lag{") && line.contains("topic=\"\(pipeline.gateway.topics.chunks)\"") {
            guard let label = line.range(of: "partition=\""), let end = line[label.upperBound...].firstIndex(of: "\""),
                  let partition = Int32(line[label.upperBound..<end]),
                  let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            lag[partition] = Int64(value)
        }
        return lag
    }
}
