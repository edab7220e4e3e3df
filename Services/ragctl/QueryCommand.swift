import ArgumentParser
import Foundation
import ModelClients

/// `ragctl query`: asks the gateway a question and prints the answer as it streams, then its citations.
struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Ask a question through the gateway; print the answer (streamed with --stream) and its citations.",
        discussion: """
            POSTs the question to /queries, then reads GET /results/{query_id} (Server-Sent Events): with \
            --stream the answer's `delta` events are printed as they arrive, then the final `result` event's \
            citations (doc_id, chunk_id, score), model and status. Without --stream only the result is \
            printed. Exit status: 0 answered, 2 refused (nothing the tier may see matched), 1 failed or error.

            Without --token a development token is minted (as `ragctl token` does) for --user, --tier and \
            --tenant.

            Example: ragctl query "How do I rotate the signing keys?" --tier standard --tenant acme --stream
            """
    )

    @Argument(help: "The question.")
    var question: String

    @Option(help: "The tier of a minted development token: free, standard or enterprise.")
    var tier = "standard"

    @Option(help: "How many chunks to retrieve as context (1 to 50; default: the gateway's, 5).")
    var topK: Int?

    @Flag(help: "Stream the answer token by token.")
    var stream = false

    @Option(help: "Seconds to wait for the answer.")
    var timeout = 120

    @OptionGroup var gateway: GatewayOptions

    func validate() throws {
        guard ["free", "standard", "enterprise"].contains(tier) else { throw ValidationError("--tier must be free, standard or enterprise") }
        if let topK, !(1...50).contains(topK) { throw ValidationError("--top-k must be between 1 and 50") }
    }

    func run() async throws {
        let token = try await gateway.bearerToken(tier: tier, scopes: [])
        let http = CurlHTTPClient(configuration: .init(maxConcurrentRequests: 2, defaultTimeout: .seconds(Int64(timeout))))
        defer { http.shutdown() }

        var request: [String: Any] = ["question": question, "stream": stream]
        if let topK { request["top_k"] = topK }
        let posted = try await http.execute(HTTPRequest(
            method: .post, url: gateway.url("/queries"),
            headers: ["Content-Type": "application/json", "Authorization": "Bearer \(token)", "Idempotency-Key": UUID().uuidString],
            body: Array(try JSONSerialization.data(withJSONObject: request)), timeout: .seconds(30)))
        let postedText = String(decoding: posted.body, as: UTF8.self)
        guard posted.status == 202,
              let accepted = try? JSONSerialization.jsonObject(with: Data(posted.body)) as? [String: Any],
              let queryID = accepted["query_id"] as? String else {
            throw CommandFailure("POST /queries: \(posted.status) \(postedText)")
        }
        printError("query \(queryID)")

        var printer = AnswerPrinter()
        let result = try await readResult(queryID: queryID, token: token, http: http, printer: &printer)
        let code = printer.finish(with: result)
        if code != 0 { throw ExitCode(code) }
    }

    /// Reads the query's event stream until its `result` event, reconnecting (up to 3 times) when the
    /// connection drops; deltas seen before are not printed twice.
    private func readResult(queryID: String, token: String, http: CurlHTTPClient, printer: inout AnswerPrinter) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(timeout)
        var reconnects = 0
        while true {
            do {
                let response = try await http.stream(HTTPRequest(
                    url: gateway.url("/results/\(queryID)"),
                    headers: ["Accept": "text/event-stream", "Authorization": "Bearer \(token)"],
                    timeout: deadline - ContinuousClock.now))
                guard response.status == 200 else {
                    var body: [UInt8] = []
                    for try await piece in response.body { body += piece }
                    throw CommandFailure("GET /results/\(queryID): \(response.status) \(String(decoding: body, as: UTF8.self))")
                }
                var parser = ServerSentEventParser()
                for try await piece in response.body {
                    for event in try parser.feed(piece) {
                        if let result = try printer.handle(event) { return result }
                    }
                }
                if let event = try parser.finish(), let result = try printer.handle(event) { return result }
                throw CommandFailure("the result stream ended before the result")
            } catch let error as HTTPClientError where reconnects < 3 && ContinuousClock.now < deadline {
                reconnects += 1
                printError("\nresult stream interrupted (\(error)); reconnecting")
                try await Task.sleep(for: .seconds(1))
            } catch let error as HTTPClientError {
                throw CommandFailure("no result within \(timeout) s: \(error)")
            }
        }
    }
}

/// Prints a query's events: delta texts as they come (once per index), then the result.
struct AnswerPrinter {
    private var printedDeltas: Set<Int> = []

    /// Prints a delta; returns the result event's JSON object when `event` is the result.
    mutating func handle(_ event: ServerSentEventParser.Event) throws -> [String: Any]? {
        let object = (try? JSONSerialization.jsonObject(with: Data(event.data.utf8))) as? [String: Any] ?? [:]
        switch event.name {
        case "delta":
            let index = object["index"] as? Int ?? printedDeltas.count
            guard printedDeltas.insert(index).inserted, let text = object["text"] as? String else { return nil }
            FileHandle.standardOutput.write(Data(text.utf8))
            return nil
        case "result":
            return object
        case "error":
            throw CommandFailure("the gateway ended the stream: \(object["code"] as? String ?? "error"): \(object["detail"] as? String ?? event.data)")
        default:
            return nil
        }
    }

    /// Prints the answer (unless its deltas were printed), citations, model and status; returns the exit code.
    func finish(with result: [String: Any]) -> Int32 {
        let status = result["status"] as? String ?? "unknown"
        let answer = result["answer"] as? String ?? ""
        var output = printedDeltas.isEmpty ? answer + "\n" : "\n"
        let citations = result["citations"] as? [[String: Any]] ?? []
        output += "\ncitations:\n"
        if citations.isEmpty { output += "  (none)\n" }
        for citation in citations {
            let score = (citation["score"] as? Double).map { String(format: "%.3f", $0) } ?? "-"
            output += "  \(citation["doc_id"] as? String ?? "?")  chunk \(citation["chunk_id"] as? String ?? "?")  score \(score)\n"
        }
        output += "model: \(result["model"] as? String ?? "-")"
        if let prompt = result["prompt_version"] as? String { output += "  prompt: \(prompt)" }
        output += "  status: \(status)"
        if let latency = result["latency_ms"] as? Int { output += "  latency: \(latency) ms" }
        output += "\n"
        FileHandle.standardOutput.write(Data(output.utf8))
        return switch status {
        case "answered": 0
        case "refused": 2
        default: 1
        }
    }
}
