extension FakeModelServer {
    /// Everything that can be changed while the server runs: injected latency and faults, streaming speed, the
    /// answers given, and the seed of the fault draws. Set at start in ``Configuration/controls``, read and
    /// changed at run time with `GET`/`POST /control` (the JSON keys are given for each field) or in process with
    /// ``FakeModelServer/controls`` and ``FakeModelServer/updateControls(_:)``.
    ///
    /// Faults apply only to the endpoints in ``faultEndpoints``. Each model request on those endpoints draws one
    /// number `u` in [0, 1) from the seeded generator; the bands are taken in this order: `u < rate429` → 429,
    /// then `rate500`, `rate503`, `rateMalformed`, `rateHang` (a sum above 1 cuts the later bands short). So a
    /// given seed and request order always yield the same faults, and a rate of 0.3 gives about 30 %.
    /// `failOnText` is checked before the draw and wins over it.
    public struct Controls: Sendable, Equatable {
        /// `latency_ms`: fixed delay before every answer, in milliseconds.
        public var latencyMilliseconds: Double
        /// `jitter_ms`: extra delay, uniform in [0, jitter), added to the latency.
        public var jitterMilliseconds: Double
        /// `rate_429`: fraction of requests answered 429 with an OpenAI `rate_limit_exceeded` error.
        public var rate429: Double
        /// `retry_after_seconds`: the `Retry-After` value sent with 429 and 503 (may be 0); `nil` (JSON `null`)
        /// sends no `Retry-After` header.
        public var retryAfterSeconds: Int?
        /// `rate_500`: fraction answered 500 with an OpenAI `server_error`.
        public var rate500: Double
        /// `rate_503`: fraction answered 503 (overloaded) with `Retry-After`.
        public var rate503: Double
        /// `rate_malformed`: fraction answered 200 with a malformed body (see ``malformedMode``).
        public var rateMalformed: Double
        /// `malformed_mode`: `invalid_json`, `missing_field` or `mixed`.
        public var malformedMode: MalformedMode
        /// `rate_hang`: fraction held for ``hangSeconds`` before being answered normally.
        public var rateHang: Double
        /// `hang_seconds`: how long a hung request is held; make it longer than any client timeout.
        public var hangSeconds: Double
        /// `fail_on_text`: substring → HTTP status (400–599). An embeddings input or chat message containing the
        /// substring is answered with that status and an OpenAI error body. With several matches the longest
        /// substring wins.
        public var failOnText: [String: Int]
        /// `token_delay_ms`: pause between streamed chat chunks (one chunk per word), in milliseconds.
        /// `tokens_per_second` in the control JSON sets the same thing as 1000 / rate.
        public var tokenDelayMilliseconds: Double
        /// `fault_endpoints`: the endpoints that get latency, random faults and `fail_on_text`
        /// (`embeddings`, `chat_completions`).
        public var faultEndpoints: Set<Endpoint>
        /// `answer_template`: the chat answer when no canned answer matches; `{question}` is replaced by the last
        /// user message.
        public var answerTemplate: String
        /// `canned_answers`: substring → answer. When the last user message contains a key, the answer is that
        /// value, verbatim (longest matching key wins). Use it for JSON answers a schema expects.
        public var cannedAnswers: [String: String]
        /// `seed`: seed of the fault and jitter draws. Setting it (even to the same value) restarts the sequence.
        public var seed: UInt64

        /// The default answer template.
        public static let defaultAnswerTemplate = "This is a fake answer to: {question}"

        /// Creates controls; the defaults inject nothing.
        public init(
            latencyMilliseconds: Double = 0,
            jitterMilliseconds: Double = 0,
            rate429: Double = 0,
            retryAfterSeconds: Int? = 1,
            rate500: Double = 0,
            rate503: Double = 0,
            rateMalformed: Double = 0,
            malformedMode: MalformedMode = .mixed,
            rateHang: Double = 0,
            hangSeconds: Double = 30,
            failOnText: [String: Int] = [:],
            tokenDelayMilliseconds: Double = 0,
            faultEndpoints: Set<Endpoint> = [.embeddings, .chatCompletions],
            answerTemplate: String = Controls.defaultAnswerTemplate,
            cannedAnswers: [String: String] = [:],
            seed: UInt64 = 0x5EED
        ) {
            self.latencyMilliseconds = latencyMilliseconds
            self.jitterMilliseconds = jitterMilliseconds
            self.rate429 = rate429
            self.retryAfterSeconds = retryAfterSeconds
            self.rate500 = rate500
            self.rate503 = rate503
            self.rateMalformed = rateMalformed
            self.malformedMode = malformedMode
            self.rateHang = rateHang
            self.hangSeconds = hangSeconds
            self.failOnText = failOnText
            self.tokenDelayMilliseconds = tokenDelayMilliseconds
            self.faultEndpoints = faultEndpoints
            self.answerTemplate = answerTemplate
            self.cannedAnswers = cannedAnswers
            self.seed = seed
        }

        /// `tokens_per_second`: streaming speed; `nil` when there is no delay between chunks.
        public var tokensPerSecond: Double? {
            get { self.tokenDelayMilliseconds > 0 ? 1000 / self.tokenDelayMilliseconds : nil }
            set { self.tokenDelayMilliseconds = newValue.map { $0 > 0 ? 1000 / $0 : 0 } ?? 0 }
        }

        /// Every problem with the values, one sentence each; empty when they are usable.
        public var problems: [String] {
            var problems: [String] = []
            let rates: [(String, Double)] = [
                ("rate_429", self.rate429), ("rate_500", self.rate500), ("rate_503", self.rate503),
                ("rate_malformed", self.rateMalformed), ("rate_hang", self.rateHang),
            ]
            for (name, rate) in rates where !(0...1).contains(rate) {
                problems.append("\(name) must be between 0 and 1, got \(rate)")
            }
            let durations: [(String, Double)] = [
                ("latency_ms", self.latencyMilliseconds), ("jitter_ms", self.jitterMilliseconds),
                ("hang_seconds", self.hangSeconds), ("token_delay_ms", self.tokenDelayMilliseconds),
            ]
            for (name, value) in durations where !(value.isFinite && value >= 0) {
                problems.append("\(name) must be a non-negative number, got \(value)")
            }
            if let retryAfter = self.retryAfterSeconds, retryAfter < 0 {
                problems.append("retry_after_seconds must be 0 or more (or null for no header), got \(retryAfter)")
            }
            for (text, status) in self.failOnText.sorted(by: { $0.key < $1.key }) {
                if text.isEmpty { problems.append("fail_on_text keys must not be empty") }
                if !(400...599).contains(status) {
                    problems.append("fail_on_text status for \"\(text)\" must be 400–599, got \(status)")
                }
            }
            if self.cannedAnswers.keys.contains("") {
                problems.append("canned_answers keys must not be empty")
            }
            return problems
        }

        /// The status configured for the first text containing a `failOnText` substring (longest substring first).
        func failure(for texts: [String]) -> (substring: String, status: Int)? {
            guard !self.failOnText.isEmpty else { return nil }
            let ordered = self.failOnText.sorted { $0.key.count != $1.key.count ? $0.key.count > $1.key.count : $0.key < $1.key }
            for (substring, status) in ordered where texts.contains(where: { $0.contains(substring) }) {
                return (substring, status)
            }
            return nil
        }

        /// The canned answer for `question`, if a key matches (longest key first).
        func cannedAnswer(for question: String) -> String? {
            guard !self.cannedAnswers.isEmpty else { return nil }
            let ordered = self.cannedAnswers.sorted { $0.key.count != $1.key.count ? $0.key.count > $1.key.count : $0.key < $1.key }
            return ordered.first { question.contains($0.key) }?.value
        }
    }
}
