extension FakeModelServer.Controls: Encodable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case latencyMilliseconds = "latency_ms"
        case jitterMilliseconds = "jitter_ms"
        case rate429 = "rate_429"
        case retryAfterSeconds = "retry_after_seconds"
        case rate500 = "rate_500"
        case rate503 = "rate_503"
        case rateMalformed = "rate_malformed"
        case malformedMode = "malformed_mode"
        case rateHang = "rate_hang"
        case hangSeconds = "hang_seconds"
        case failOnText = "fail_on_text"
        case tokenDelayMilliseconds = "token_delay_ms"
        case tokensPerSecond = "tokens_per_second"
        case faultEndpoints = "fault_endpoints"
        case answerTemplate = "answer_template"
        case cannedAnswers = "canned_answers"
        case seed
    }

    /// Encodes every field under its control-JSON key (`null` for an absent `retry_after_seconds` or
    /// `tokens_per_second`).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.latencyMilliseconds, forKey: .latencyMilliseconds)
        try container.encode(self.jitterMilliseconds, forKey: .jitterMilliseconds)
        try container.encode(self.rate429, forKey: .rate429)
        try container.encode(self.retryAfterSeconds, forKey: .retryAfterSeconds)
        try container.encode(self.rate500, forKey: .rate500)
        try container.encode(self.rate503, forKey: .rate503)
        try container.encode(self.rateMalformed, forKey: .rateMalformed)
        try container.encode(self.malformedMode, forKey: .malformedMode)
        try container.encode(self.rateHang, forKey: .rateHang)
        try container.encode(self.hangSeconds, forKey: .hangSeconds)
        try container.encode(self.failOnText, forKey: .failOnText)
        try container.encode(self.tokenDelayMilliseconds, forKey: .tokenDelayMilliseconds)
        try container.encode(self.tokensPerSecond, forKey: .tokensPerSecond)
        try container.encode(self.faultEndpoints.map(\.rawValue).sorted(), forKey: .faultEndpoints)
        try container.encode(self.answerTemplate, forKey: .answerTemplate)
        try container.encode(self.cannedAnswers, forKey: .cannedAnswers)
        try container.encode(self.seed, forKey: .seed)
    }
}

/// The body of `POST /control`: only the keys present change (`"reset": true` first restores the controls the
/// server started with). Unknown keys are refused, so a typo cannot silently do nothing.
struct ControlsPatch: Decodable {
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    typealias Key = FakeModelServer.Controls.CodingKeys

    /// `reset`: restore the start-up controls before applying the other keys.
    var reset = false
    private var edits: [(inout FakeModelServer.Controls) -> Void] = []
    /// Whether the patch sets `seed` (the server then restarts its draw sequence).
    private(set) var setsSeed = false

    init(from decoder: any Decoder) throws {
        let raw = try decoder.container(keyedBy: AnyKey.self)
        let known = Set(Key.allCases.map(\.rawValue) + ["reset"])
        let unknown = raw.allKeys.map(\.stringValue).filter { !known.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw ControlsPatchError("unknown control keys: \(unknown.joined(separator: ", "))")
        }
        let container = try decoder.container(keyedBy: Key.self)
        if raw.contains(AnyKey(stringValue: "reset")) {
            self.reset = try raw.decode(Bool.self, forKey: AnyKey(stringValue: "reset"))
        }
        if container.contains(.tokenDelayMilliseconds) && container.contains(.tokensPerSecond) {
            throw ControlsPatchError("give token_delay_ms or tokens_per_second, not both")
        }

        func set<Value: Decodable>(_ key: Key, _ path: WritableKeyPath<FakeModelServer.Controls, Value>) throws {
            if container.contains(key) {
                let value = try container.decode(Value.self, forKey: key)
                self.edits.append { $0[keyPath: path] = value }
            }
        }
        try set(.latencyMilliseconds, \.latencyMilliseconds)
        try set(.jitterMilliseconds, \.jitterMilliseconds)
        try set(.rate429, \.rate429)
        try set(.rate500, \.rate500)
        try set(.rate503, \.rate503)
        try set(.rateMalformed, \.rateMalformed)
        try set(.malformedMode, \.malformedMode)
        try set(.rateHang, \.rateHang)
        try set(.hangSeconds, \.hangSeconds)
        try set(.failOnText, \.failOnText)
        try set(.tokenDelayMilliseconds, \.tokenDelayMilliseconds)
        try set(.answerTemplate, \.answerTemplate)
        try set(.cannedAnswers, \.cannedAnswers)
        // `null` is meaningful for these two, so presence is checked, not decodeIfPresent.
        if container.contains(.retryAfterSeconds) {
            let value = try container.decodeNil(forKey: .retryAfterSeconds)
                ? nil : try container.decode(Int.self, forKey: .retryAfterSeconds)
            self.edits.append { $0.retryAfterSeconds = value }
        }
        if container.contains(.tokensPerSecond) {
            let value = try container.decodeNil(forKey: .tokensPerSecond)
                ? nil : try container.decode(Double.self, forKey: .tokensPerSecond)
            if let value, !(value.isFinite && value >= 0) {
                throw ControlsPatchError("tokens_per_second must be a non-negative number, got \(value)")
            }
            self.edits.append { $0.tokensPerSecond = value }
        }
        if container.contains(.faultEndpoints) {
            let names = try container.decode([String].self, forKey: .faultEndpoints)
            var endpoints = Set<FakeModelServer.Endpoint>()
            for name in names {
                guard let endpoint = FakeModelServer.Endpoint(rawValue: name), endpoint != .models else {
                    throw ControlsPatchError("fault_endpoints takes embeddings and chat_completions, got \(name)")
                }
                endpoints.insert(endpoint)
            }
            self.edits.append { $0.faultEndpoints = endpoints }
        }
        if container.contains(.seed) {
            let seed = try container.decode(UInt64.self, forKey: .seed)
            self.setsSeed = true
            self.edits.append { $0.seed = seed }
        }
    }

    /// The controls after this patch, starting from `current` (or `initial` when `reset` is set).
    func applied(to current: FakeModelServer.Controls, initial: FakeModelServer.Controls) -> FakeModelServer.Controls {
        var controls = self.reset ? initial : current
        for edit in self.edits { edit(&controls) }
        return controls
    }
}

/// Why a `POST /control` body was refused.
struct ControlsPatchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
