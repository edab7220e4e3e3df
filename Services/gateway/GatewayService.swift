import Auth
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Messaging
import Schemas

/// The gateway's flow (SPEC §4, §5): the one place where identity is established and input validated.
///
/// POST /chunks and POST /queries: authenticate → rate-limit → read a JSON body (size-capped) → drop any
/// client-supplied identity field → validate against the JSON Schema → produce to Kafka with the trusted
/// identity headers from the token → answer 202 once the broker has acknowledged (acks=all), 503 if it
/// did not. GET /results…: Server-Sent Events from the `ResultsHub`, filtered to the caller.
struct GatewayAPI: Sendable {
    struct Settings: Sendable {
        var topics: RAGTopics
        var maxBodyBytes = 1 << 20
        var heartbeatInterval: Duration = .seconds(15)
        /// What a 503 tells the client to wait.
        var retryAfterSeconds = 5
        /// The embedding model, part of the deterministic chunk ids answered by POST /chunks.
        var embeddingModel = "all-MiniLM-L6-v2"
        var rateLimits = TokenBucketRateLimiter.defaultLimits
        /// How long reading a request body may take in all (a slowly trickled body is cut off: 408).
        var bodyReadTimeout: Duration = .seconds(30)
        /// What a 429/503 for too many SSE streams tells the client to wait.
        var subscriberRetryAfterSeconds = 5
    }

    let settings: Settings
    let producer: KafkaProducer
    let schemas: SchemaRegistry
    let policy: TierPolicy
    let hub: ResultsHub
    let idempotency: IdempotencyStore
    let rateLimiter: TokenBucketRateLimiter
    let logger: Logger

    /// Identity fields a client may try to smuggle in a body, as `normalizedFieldName` spells them: dropped
    /// before validation (at the top level, in batch elements and in a chunk's `metadata`), never forwarded.
    static let identityFields: Set<String> = ["userid", "usertier", "tenant", "tenantid", "tier", "sub"]

    /// A member name lower-cased with everything but letters and digits removed, so `user-id`, `user_id`,
    /// `userId` and `User ID` are all `userid`.
    static func normalizedFieldName(_ name: String) -> String {
        var ascii: [UInt8] = []
        ascii.reserveCapacity(name.utf8.count)
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): ascii.append(byte)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): ascii.append(byte + 32)
            case 0x80...:  // not ASCII: Unicode lower-casing and letter properties
                return String(String.UnicodeScalarView(name.lowercased().unicodeScalars.filter { $0.properties.isAlphabetic || ("0"..."9").contains($0) }))
            default: break
            }
        }
        return String(decoding: ascii, as: UTF8.self)
    }

    static func isIdentityField(_ name: String) -> Bool { identityFields.contains(normalizedFieldName(name)) }

    func addRoutes(to router: some RouterMethods<GatewayRequestContext>) {
        router.post("chunks") { request, context in try await ingest(request, context) }
        router.post("queries") { request, context in try await query(request, context) }
        router.get("results/{query_id}") { request, context in
            try results(request, context, queryID: try context.parameters.require("query_id"))
        }
        router.get("results") { request, context in try results(request, context, queryID: nil) }
    }

    // MARK: - POST /chunks

    func ingest(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        do { try identity.require(scope: "chunks:write") } catch { throw Problem(error) }
        try rateLimit(identity)
        var body = try await readJSON(request)
        try rejectNULCharacters(body)
        let isBatch = body["chunks"] != nil
        body = Self.droppingIdentityFields(body, nested: isBatch ? "chunks" : nil)
        try validate(body, against: isBatch ? .chunkBatchRequest : .chunkRequest)
        let chunks = isBatch ? (body["chunks"]?.arrayValue ?? []) : [body]

        guard let docID = chunks.first?["doc_id"]?.stringValue else { throw Problem.schemaViolation([]) }
        let mixed = chunks.enumerated().filter { $0.element["doc_id"]?.stringValue != docID }
        if !mixed.isEmpty {
            throw Problem.schemaViolation(mixed.map {
                SchemaViolation(pointer: "/chunks/\($0.offset)/doc_id", keyword: "const", message: "must equal /chunks/0/doc_id (one document per request)")
            })
        }
        let refused = chunks.enumerated().filter { chunk in
            guard let visibility = chunk.element["visibility"]?.stringValue.flatMap(Visibility.init(rawValue:)) else { return true }
            return !policy.allows(tier: identity.tier, visibility: visibility)
        }
        if !refused.isEmpty {
            throw Problem(status: .forbidden, code: "visibility_not_allowed",
                          detail: "tier \(identity.tier.rawValue) may not ingest chunks with visibility above "
                              + policy.visibilities(for: identity.tier).map(\.rawValue).sorted().joined(separator: ", "),
                          violations: refused.map {
                              SchemaViolation(pointer: isBatch ? "/chunks/\($0.offset)/visibility" : "/visibility", keyword: "tier",
                                              message: "exceeds the caller's tier")
                          })
        }

        let tenant = identity.tenantHeaderValue
        let headers = trustedHeaders(identity, context, request, schema: .chunkEvent)
        var chunkIDs: [String] = []
        let records: [KafkaOutgoingRecord] = chunks.map { chunk in
            // The body passed its schema: doc_id, seq, text and visibility are present and typed.
            let text = chunk["text"]?.stringValue ?? ""
            let event = ChunkEvent(docID: docID, seq: chunk["seq"]?.intValue ?? 0, text: text,
                                   visibility: chunk["visibility"]?.stringValue ?? Visibility.public.rawValue,
                                   metadata: chunk["metadata"]?.objectValue,
                                   contentSHA256: SHA256.hash(data: Array(text.utf8)).hexString)
            chunkIDs.append(ChunkID.make(tenant: tenant, docID: docID, seq: event.seq, model: settings.embeddingModel))
            return KafkaOutgoingRecord(topic: settings.topics.chunks, key: docID, value: event.encoded(), headers: headers)
        }
        try await produce(records)
        return try jsonResponse(.accepted, [
            ("doc_id", .string(docID)), ("accepted", .integer(records.count)),
            ("chunk_ids", .array(chunkIDs.map(JSONValue.string))),
        ], context)
    }

    // MARK: - POST /queries

    func query(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        try rateLimit(identity)
        let raw = try await readJSON(request)
        try rejectNULCharacters(raw)
        let body = schemas.applyingDefaults(to: Self.droppingIdentityFields(raw, nested: nil), for: .queryRequest)
        try validate(body, against: .queryRequest)

        let tenant = identity.tenant
        let idempotencyKey = request.headers[.idempotencyKey]
        var queryID = RandomIDs.uuid()
        if let idempotencyKey {
            guard !idempotencyKey.isEmpty, idempotencyKey.unicodeScalars.count <= Self.maxIdempotencyKeyLength else {
                throw Problem(status: .badRequest, code: "invalid_idempotency_key",
                              detail: "Idempotency-Key must be 1 to \(Self.maxIdempotencyKeyLength) characters")
            }
            switch idempotency.reserve(key: idempotencyKey, tenant: tenant, user: identity.userID, body: body.serialized(sortingKeys: true)) {
            case .new(let reserved): queryID = reserved
            case .replay(let earlier): return try queryAccepted(earlier, context, replayed: true)
            case .inProgress:
                throw Problem(status: .conflict, code: "idempotency_key_in_progress",
                              detail: "a request with this Idempotency-Key is still being processed; retry shortly", retryAfterSeconds: 1)
            case .conflict:
                throw Problem(status: .conflict, code: "idempotency_key_reused",
                              detail: "this Idempotency-Key was used with a different request body")
            }
        }
        // The body passed its schema with its defaults applied: question, top_k and stream are present and typed.
        let event = QueryEvent(queryID: queryID, question: body["question"]?.stringValue ?? "",
                               topK: body["top_k"]?.intValue ?? 5, stream: body["stream"]?.boolValue ?? false)
        do {
            try await produce([KafkaOutgoingRecord(topic: settings.topics.queries, key: queryID, value: event.encoded(),
                                                   headers: trustedHeaders(identity, context, request, schema: .queryEvent))])
        } catch {
            if let idempotencyKey { idempotency.release(key: idempotencyKey, tenant: tenant, user: identity.userID) }
            throw error
        }
        if let idempotencyKey { idempotency.complete(key: idempotencyKey, tenant: tenant, user: identity.userID) }
        return try queryAccepted(queryID, context, replayed: false)
    }

    /// The longest `Idempotency-Key` accepted (characters); documented in the OpenAPI document.
    static let maxIdempotencyKeyLength = 255

    private func queryAccepted(_ queryID: String, _ context: GatewayRequestContext, replayed: Bool) throws -> Response {
        var response = try jsonResponse(.accepted, [("query_id", .string(queryID)), ("results_url", .string("/results/\(queryID)"))], context)
        if replayed { response.headers[.idempotentReplayed] = "true" }
        return response
    }

    // MARK: - GET /results, GET /results/{query_id}

    func results(_ request: Request, _ context: GatewayRequestContext, queryID: String?) throws -> Response {
        let identity = try context.requireIdentity()
        try rateLimit(identity)
        let filter = ResultsHub.Filter(userID: identity.userID, tenant: identity.tenantHeaderValue,
                                       tierRank: identity.tier.rank, queryID: queryID)
        let lastEventID = request.headers[.lastEventID] ?? request.uri.queryParameters.get("last_event_id")
        let subscription: ResultsHub.Subscription
        do {
            subscription = try hub.subscribe(filter, caller: CallerID(identity), lastEventID: lastEventID)
        } catch .tooManyForCaller(let limit) {
            throw Problem(status: .tooManyRequests, code: "too_many_subscriptions",
                          detail: "at most \(limit) open result streams per user; close one first",
                          retryAfterSeconds: settings.subscriberRetryAfterSeconds)
        } catch .tooManyInTotal(let limit) {
            throw Problem(status: .serviceUnavailable, code: "subscriptions_exhausted",
                          detail: "this gateway instance serves at most \(limit) result streams; retry later",
                          retryAfterSeconds: settings.subscriberRetryAfterSeconds)
        }
        let heartbeat = settings.heartbeatInterval
        var headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        headers[.accelBuffering] = "no"
        headers[.requestID] = context.requestID
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            // Tell EventSource how long to wait before reconnecting, then the backlog, then live events.
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            for event in subscription.backlog {
                try await writer.write(ServerSentEvent.encode(event))
                if queryID != nil && event.kind == .result {
                    subscription.continuation.finish()
                    try await writer.finish(nil)
                    return
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: heartbeat)
                        subscription.continuation.yield(.heartbeat)
                    }
                }
                streaming: for await item in subscription.items {
                    switch item {
                    case .event(let event):
                        try await writer.write(ServerSentEvent.encode(event))
                        if queryID != nil && event.kind == .result { break streaming }
                    case .heartbeat:
                        try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                    }
                }
                // The hub ends a stream that fell a whole buffer behind; the events buffered before that
                // were written above, so Last-Event-ID resumes right after them.
                if subscription.overflowed {
                    try await writer.write(ServerSentEvent.error(
                        code: "subscriber_overflow", detail: "the stream fell too far behind; reconnect with Last-Event-ID"))
                }
                group.cancelAll()
            }
            subscription.continuation.finish()
            try await writer.finish(nil)
        })
    }

    // MARK: - Steps shared by the routes

    private func rateLimit(_ identity: Identity) throws {
        let limit = settings.rateLimits[identity.tier.rawValue] ?? .init(perSecond: 1, burst: 1)
        if case .limited(let retryAfter) = rateLimiter.acquire(CallerID(identity), limit: limit) {
            throw Problem(status: .tooManyRequests, code: "rate_limited",
                          detail: "too many requests for tier \(identity.tier.rawValue); retry after \(retryAfter) s", retryAfterSeconds: retryAfter)
        }
    }

    private func readJSON(_ request: Request) async throws -> JSONValue {
        let contentType = request.headers[.contentType]
        let mediaType = contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/json" else { throw Problem.unsupportedMediaType(contentType) }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > settings.maxBodyBytes {
            throw Problem.tooLarge(limit: settings.maxBodyBytes)
        }
        let buffer: ByteBuffer
        do {
            let limit = settings.maxBodyBytes
            buffer = try await Self.withDeadline(settings.bodyReadTimeout) { try await request.body.collect(upTo: limit) }
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw Problem.tooLarge(limit: settings.maxBodyBytes)
        } catch is DeadlineExceeded {
            throw Problem(status: .requestTimeout, code: "body_timeout",
                          detail: "the body did not arrive within \(settings.bodyReadTimeout)", extraHeaders: [.connection: "close"])
        }
        do {
            return try JSONValue.parse(Array(buffer.readableBytesView))
        } catch {
            throw Problem.invalidJSON(error)
        }
    }

    private func validate(_ body: JSONValue, against schema: SchemaName) throws {
        let summary = schemas.validate(body, against: schema, limit: Problem.maxListedViolations)
        if !summary.isEmpty { throw Problem.schemaViolation(summary) }
    }

    /// Refuses any string holding U+0000, member names included, wherever it is in the body (Postgres
    /// cannot store it); checked on the body as sent, before anything is dropped or validated.
    private func rejectNULCharacters(_ body: JSONValue) throws {
        let summary = body.nulCharacterViolations(limit: Problem.maxListedViolations)
        if !summary.isEmpty { throw Problem.schemaViolation(summary) }
    }

    /// Removes identity fields at the top level, from a `metadata` object, and likewise in each element of
    /// `nested`; identity comes from the token.
    static func droppingIdentityFields(_ body: JSONValue, nested: String?) -> JSONValue {
        guard case .object(let object) = body else { return body }
        var members: [(String, JSONValue)] = []
        for (key, value) in object where !isIdentityField(key) {
            if key == nested, case .array(let elements) = value {
                members.append((key, .array(elements.map { droppingIdentityFields($0, nested: nil) })))
            } else if key == "metadata", case .object(let metadata) = value {
                members.append((key, .object(JSONObject(uniqueKeysWithValues: metadata.lazy.filter { !isIdentityField($0.key) }.map { ($0.key, $0.value) }))))
            } else {
                members.append((key, value))
            }
        }
        return .object(JSONObject(uniqueKeysWithValues: members))
    }

    /// Thrown by `withDeadline` when the work did not finish in time.
    struct DeadlineExceeded: Error {}

    /// Runs `work`, cancelling it and throwing `DeadlineExceeded` once `timeout` has passed.
    ///
    /// The deadline is watched by `DeadlineWatch.shared` (one task ticking every 50 ms for all requests),
    /// not by a timer per call: arming and cancelling a `Task.sleep` for every request body cost a timer
    /// registration and a wake-up of the dispatch timer thread each time.
    static func withDeadline<T: Sendable>(_ timeout: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await work() }
        let watch = DeadlineWatch.shared.watch(until: .now + timeout) { task.cancel() }
        defer { DeadlineWatch.shared.unwatch(watch) }
        return try await withTaskCancellationHandler {
            let result = await task.result
            // Expired: whatever the cancelled work did (threw, or returned what it had), the deadline won.
            if watch.expired { throw DeadlineExceeded() }
            return try result.get()
        } onCancel: {
            task.cancel()
        }
    }

    /// The headers downstream services trust (SPEC §3): identity from the verified token only; the trace
    /// context of the request's span (without a tracer, the caller's trace continued with a new span id).
    private func trustedHeaders(_ identity: Identity, _ context: GatewayRequestContext, _ request: Request, schema: SchemaName) -> [KafkaHeader] {
        [
            KafkaHeader("user-id", identity.userID),
            KafkaHeader("user-tier", identity.tier.rawValue),
            KafkaHeader("tenant", identity.tenantHeaderValue),
            KafkaHeader("request-id", context.requestID),
            KafkaHeader("traceparent", TraceParent.child(of: request.headers[.traceparent])),
            KafkaHeader("schema-version", schemas.version(of: schema)),
        ].continuingCurrentSpan()
    }

    /// Sends every record and waits for every acknowledgement; any failure is a 503 (the client retries;
    /// chunk upserts and query ids make a retried request harmless).
    private func produce(_ records: [KafkaOutgoingRecord]) async throws {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for record in records {
                    group.addTask { try await producer.send(record) }
                }
                try await group.waitForAll()
            }
        } catch let error as KafkaError {
            logger.warning("produce failed; answering 503", metadata: ["error": "\(error)"])
            throw Problem.brokerUnavailable(retryAfter: settings.retryAfterSeconds, error.name)
        }
    }

    private func jsonResponse(_ status: HTTPResponse.Status, _ members: [(String, JSONValue)], _ context: GatewayRequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[.requestID] = context.requestID
        let body = JSONValue.object(JSONObject(uniqueKeysWithValues: members)).serialized()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension HTTPField.Name {
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
    static let lastEventID = Self("Last-Event-ID")!
    static let traceparent = Self("traceparent")!
    static let requestID = Self("X-Request-Id")!
    static let accelBuffering = Self("X-Accel-Buffering")!
}
