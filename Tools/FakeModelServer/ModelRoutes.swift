#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import ServiceLifecycle

/// The HTTP handlers: the OpenAI-compatible model endpoints, `/control`, `/stats` and `/healthz`.
struct ModelRoutes: Sendable {
    let state: ServerState

    func add(to router: Router<BasicRequestContext>) {
        for prefix in ["/v1", ""] {
            router.post("\(prefix)/embeddings") { request, _ in try await self.counted { try await self.embeddings(request) } }
            router.post("\(prefix)/chat/completions") { request, _ in try await self.counted { try await self.chatCompletions(request) } }
            router.get("\(prefix)/models") { _, _ in try self.models() }
        }
        router.get("/control") { _, _ in try Self.json(.ok, self.state.controls) }
        router.post("/control") { request, _ in try await self.control(request) }
        router.post("/control/reset") { _, _ in
            try self.state.setControls(self.state.configuration.controls, reseed: true)
            return try Self.json(.ok, self.state.controls)
        }
        router.get("/stats") { _, _ in try Self.json(.ok, self.state.stats) }
        router.post("/stats/reset") { _, _ in
            self.state.resetStats()
            return try Self.json(.ok, self.state.stats)
        }
        router.get("/healthz") { _, _ in Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ok\n"))) }
    }

    // MARK: Embeddings

    private func embeddings(_ request: Request) async throws -> Response {
        self.state.record { $0.recordRequest(.embeddings) }
        let body: EmbeddingsRequest
        switch await self.decodeBody(EmbeddingsRequest.self, from: request) {
        case .success(let decoded): body = decoded
        case .failure(let refusal): return self.refuse(refusal, on: .embeddings)
        }
        let configuration = self.state.configuration
        let dimensions = body.dimensions ?? configuration.defaultDimensions
        let format = body.encodingFormat ?? "float"
        if let refusal = self.checkModel(body.model, in: configuration.embeddingModels)
            ?? Self.validate(body, dimensions: dimensions, format: format, maximumDimensions: configuration.maximumDimensions)
        {
            return self.refuse(refusal, on: .embeddings)
        }

        let recordsTexts = configuration.recordsTexts
        self.state.record { stats in
            stats.embeddingInputs += body.input.count
            if recordsTexts {
                for text in body.input { stats.textCalls[text, default: 0] += 1 }
            }
        }
        let decision = self.state.decide(.embeddings, texts: body.input)
        if let early = try await self.applyFault(decision, on: .embeddings) { return early }
        if case .malformed(let kind) = decision.action {
            let object = "{\"object\":\"list\",\"model\":\(JSONCoding.quoted(body.model)),\"usage\":{\"prompt_tokens\":1,\"total_tokens\":1}}"
            return Self.malformed(kind, validJSONWithoutField: object, outcome: .malformed, state: self.state, on: .embeddings)
        }

        let tokens = body.input.reduce(0) { $0 + max(1, ChatAnswer.tokenCount($1)) }
        var json = "{\"object\":\"list\",\"data\":["
        for (index, text) in body.input.enumerated() {
            let vector = FakeEmbedding.vector(for: text, model: body.model, dimensions: dimensions)
            if index > 0 { json += "," }
            json += "{\"object\":\"embedding\",\"index\":\(index),\"embedding\":"
            if format == "base64" {
                json += "\"" + Self.base64(vector) + "\""
            } else {
                json += "["
                for (position, value) in vector.enumerated() {
                    if position > 0 { json += "," }
                    json += value.description
                }
                json += "]"
            }
            json += "}"
        }
        json += "],\"model\":\(JSONCoding.quoted(body.model)),\"usage\":{\"prompt_tokens\":\(tokens),\"total_tokens\":\(tokens)}}"

        let outcome = Self.outcome(of: decision)
        self.state.record { stats in
            if let outcome { stats.recordOutcome(outcome, on: .embeddings) }
            stats.embeddedTexts += body.input.count
            stats.promptTokens += tokens
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
    }

    private static func validate(_ body: EmbeddingsRequest, dimensions: Int, format: String, maximumDimensions: Int) -> Refusal? {
        if body.input.isEmpty {
            return .invalid(param: "input", "input must not be empty")
        }
        if body.input.contains("") {
            return .invalid(param: "input", "input must not contain empty strings")
        }
        if !(1...maximumDimensions).contains(dimensions) {
            return .invalid(param: "dimensions", "dimensions must be 1–\(maximumDimensions), got \(dimensions)")
        }
        if format != "float" && format != "base64" {
            return .invalid(param: "encoding_format", "encoding_format must be float or base64, got \(format)")
        }
        return nil
    }

    /// Little-endian IEEE 754 single-precision floats, base64-encoded (OpenAI's `encoding_format: base64`).
    private static func base64(_ vector: [Float]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(vector.count * 4)
        for value in vector {
            let bits = value.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        return Data(bytes).base64EncodedString()
    }

    // MARK: Chat completions

    private func chatCompletions(_ request: Request) async throws -> Response {
        self.state.record { $0.recordRequest(.chatCompletions) }
        let body: ChatCompletionRequest
        switch await self.decodeBody(ChatCompletionRequest.self, from: request) {
        case .success(let decoded): body = decoded
        case .failure(let refusal): return self.refuse(refusal, on: .chatCompletions)
        }
        let configuration = self.state.configuration
        if let refusal = self.checkModel(body.model, in: configuration.chatModels)
            ?? (body.messages.isEmpty ? .invalid(param: "messages", "messages must not be empty") : nil)
            ?? ((body.completionLimit ?? 1) >= 1 ? nil : .invalid(param: "max_tokens", "max_tokens must be at least 1"))
        {
            return self.refuse(refusal, on: .chatCompletions)
        }
        let streams = body.stream ?? false
        let question = body.lastUserMessage
        let recordsTexts = configuration.recordsTexts
        self.state.record { stats in
            if streams { stats.streamedCompletions += 1 }
            if recordsTexts { stats.chatCalls[question, default: 0] += 1 }
        }

        let decision = self.state.decide(.chatCompletions, texts: body.messages.map(\.content))
        if let early = try await self.applyFault(decision, on: .chatCompletions) { return early }

        let id = self.state.nextCompletionID()
        let created = unixTimeNow()
        let allPieces = ChatAnswer.pieces(of: ChatAnswer.text(for: body, controls: decision.controls))
        let limit = body.completionLimit ?? Int.max
        let pieces = Array(allPieces.prefix(limit))
        let finishReason = pieces.count < allPieces.count ? "length" : "stop"
        let usage = Usage(
            promptTokens: body.messages.reduce(0) { $0 + ChatAnswer.tokenCount($1.content) },
            completionTokens: pieces.count,
            totalTokens: body.messages.reduce(0) { $0 + ChatAnswer.tokenCount($1.content) } + pieces.count
        )

        if case .malformed(let kind) = decision.action {
            if streams {
                return self.malformedStream(kind, id: id, created: created, model: body.model)
            }
            let object = "{\"id\":\(JSONCoding.quoted(id)),\"object\":\"chat.completion\",\"created\":\(created),\"model\":\(JSONCoding.quoted(body.model))}"
            return Self.malformed(kind, validJSONWithoutField: object, outcome: .malformed, state: self.state, on: .chatCompletions)
        }

        let outcome = Self.outcome(of: decision)
        self.state.record { stats in
            if let outcome { stats.recordOutcome(outcome, on: .chatCompletions) }
            stats.promptTokens += usage.promptTokens
            stats.completionTokens += pieces.count
        }

        guard streams else {
            let response = ChatCompletionResponse(
                id: id,
                created: created,
                model: body.model,
                choices: [.init(message: .init(content: pieces.joined()), finishReason: finishReason)],
                usage: usage
            )
            return try Self.json(.ok, response)
        }

        let delay = Duration.microseconds(Int64((decision.controls.tokenDelayMilliseconds * 1000).rounded()))
        let includeUsage = body.streamOptions?.includeUsage ?? false
        let model = body.model
        func event(_ delta: ChatCompletionChunk.Choice.Delta, finish: String? = nil) throws -> ByteBuffer {
            let chunk = ChatCompletionChunk(id: id, created: created, model: model, choices: [.init(delta: delta, finishReason: finish)])
            return ByteBuffer(string: "data: " + String(decoding: try JSONCoding.encode(chunk), as: UTF8.self) + "\n\n")
        }
        var events = [try event(.init(role: "assistant", content: ""))]
        for piece in pieces { events.append(try event(.init(content: piece))) }
        events.append(try event(.init(), finish: finishReason))
        if includeUsage {
            let chunk = ChatCompletionChunk(id: id, created: created, model: model, choices: [], usage: usage)
            events.append(ByteBuffer(string: "data: " + String(decoding: try JSONCoding.encode(chunk), as: UTF8.self) + "\n\n"))
        }
        events.append(ByteBuffer(string: "data: [DONE]\n\n"))
        let pieceRange = 1..<(1 + pieces.count)  // the content events, each after the token delay
        let frozen = events
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                for (index, buffer) in frozen.enumerated() {
                    if pieceRange.contains(index) {
                        try await Self.pause(delay)
                    }
                    try await writer.write(buffer)
                }
                try await writer.finish(nil)
            }
        )
    }

    /// A streamed answer that breaks the protocol: a chunk that is not JSON, or chunks without `choices`.
    private func malformedStream(_ kind: FakeModelServer.MalformedMode, id: String, created: Int, model: String) -> Response {
        self.state.record { $0.recordOutcome(.malformed, on: .chatCompletions) }
        let events: [String]
        switch kind {
        case .missingField:
            events = [
                "data: {\"id\":\(JSONCoding.quoted(id)),\"object\":\"chat.completion.chunk\",\"created\":\(created),\"model\":\(JSONCoding.quoted(model))}\n\n",
                "data: [DONE]\n\n",
            ]
        case .invalidJSON, .mixed:
            events = [
                "data: {\"id\":\(JSONCoding.quoted(id)),\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"trunc\n\n",
                "data: [DONE]\n\n",
            ]
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody(contentsOf: events.map { ByteBuffer(string: $0) })
        )
    }

    // MARK: Models, control

    private func models() throws -> Response {
        self.state.record { $0.recordRequest(.models) }
        let configuration = self.state.configuration
        var seen = Set<String>()
        let names = (configuration.embeddingModels + configuration.chatModels).filter { seen.insert($0).inserted }
        return try Self.json(.ok, ModelList(data: names.map { ModelList.Model(id: $0) }))
    }

    private func control(_ request: Request) async throws -> Response {
        let patch: ControlsPatch
        switch await self.decodeBody(ControlsPatch.self, from: request) {
        case .success(let decoded): patch = decoded
        case .failure(let refusal): return refusal.response(retryAfter: nil)
        }
        let controls: FakeModelServer.Controls
        do {
            controls = try self.state.apply(patch)
        } catch {
            return Refusal.invalid(param: nil, error.problems.joined(separator: "; ")).response(retryAfter: nil)
        }
        return try Self.json(.ok, controls)
    }

    // MARK: Shared steps

    /// Runs a model request's handler, counting the request in flight until its answer is written
    /// (``FakeModelServer/Stats/peakConcurrentRequests``).
    private func counted(_ handler: () async throws -> Response) async throws -> Response {
        let inFlight = self.state.startRequest()
        var response: Response
        do {
            response = try await handler()
        } catch {
            inFlight.end()
            throw error
        }
        let body = response.body
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            defer { inFlight.end() }
            try await body.write(writer)
        }
        return response
    }

    /// Sleeps the injected latency, then answers a failure or holds a hang. Returns the response to send for a
    /// failure; `nil` when the request goes on to be answered (normally or malformed).
    private func applyFault(_ decision: FaultDecision, on endpoint: FakeModelServer.Endpoint) async throws -> Response? {
        try await Self.pause(decision.delay)
        switch decision.action {
        case .answer, .malformed:
            return nil
        case .hang(let duration):
            // Counted when the hold starts, so a test sees it while the client is still waiting.
            self.state.record { $0.recordOutcome(.hang, on: endpoint) }
            try await Self.pause(duration)
            return nil
        case .fail(let status, let outcome, let reason):
            self.state.record { $0.recordOutcome(outcome, on: endpoint) }
            let retryAfter = status == 429 || status == 503 ? decision.controls.retryAfterSeconds : nil
            return Refusal(status: status, param: nil, message: reason, code: outcome == .rejected ? "fail_on_text" : nil)
                .response(retryAfter: retryAfter)
        }
    }

    /// Sleeps for an injected delay (latency, hang, token pacing). A graceful shutdown ends the pause early, so
    /// the server drains quickly; cancellation ends the request.
    private static func pause(_ duration: Duration) async throws {
        guard duration > .zero else { return }
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
        try Task.checkCancellation()
    }

    /// The outcome to count when a request is answered normally; `nil` after a hang (counted when it began).
    private static func outcome(of decision: FaultDecision) -> FakeModelServer.Outcome? {
        if case .hang = decision.action { return nil }
        return .ok
    }

    private static func malformed(
        _ kind: FakeModelServer.MalformedMode,
        validJSONWithoutField object: String,
        outcome: FakeModelServer.Outcome,
        state: ServerState,
        on endpoint: FakeModelServer.Endpoint
    ) -> Response {
        state.record { $0.recordOutcome(outcome, on: endpoint) }
        let body: String
        switch kind {
        case .missingField: body = object
        case .invalidJSON, .mixed: body = String(object.prefix(object.count / 2))  // cut mid-value: not JSON
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    private func checkModel(_ model: String, in served: [String]) -> Refusal? {
        guard self.state.configuration.rejectUnknownModels, !served.contains(model) else { return nil }
        return Refusal(
            status: 404,
            param: "model",
            message: "The model `\(model)` does not exist or you do not have access to it.",
            code: "model_not_found"
        )
    }

    private func refuse(_ refusal: Refusal, on endpoint: FakeModelServer.Endpoint) -> Response {
        self.state.record { $0.recordOutcome(.invalid, on: endpoint) }
        return refusal.response(retryAfter: nil)
    }

    private func decodeBody<Value: Decodable>(_ type: Value.Type, from request: Request) async -> Result<Value, Refusal> {
        let limit = self.state.configuration.maximumRequestBytes
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            return .failure(Refusal(status: 413, param: nil, message: "the request body is larger than \(limit) bytes", code: "request_too_large"))
        }
        do {
            return .success(try JSONCoding.decode(Value.self, from: Array(buffer.readableBytesView)))
        } catch {
            return .failure(.invalid(param: error.param, error.message))
        }
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) throws -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try JSONCoding.encode(value)))
        )
    }
}
