import Synchronization

/// What a model request is to get, decided under the state lock when the request arrives.
struct FaultDecision: Sendable {
    enum Action: Sendable, Equatable {
        /// Answer normally.
        case answer
        /// Hold the request this long, then answer normally.
        case hang(Duration)
        /// Answer with an error status and OpenAI error body.
        case fail(status: Int, outcome: FakeModelServer.Outcome, reason: String)
        /// Answer 200 with a malformed body of this kind (never `.mixed`).
        case malformed(FakeModelServer.MalformedMode)
    }

    var action: Action
    /// Injected latency before the answer (or the error).
    var delay: Duration
    /// The controls in force when the request arrived.
    var controls: FakeModelServer.Controls
}

/// The server's mutable state — controls, seeded generators, counters — behind one lock. Shared by the handlers
/// of every listener and by the in-process API.
final class ServerState: Sendable {
    private struct Locked {
        var controls: FakeModelServer.Controls
        var faultGenerator: SeededGenerator
        var jitterGenerator: SeededGenerator
        var stats = FakeModelServer.Stats()
        var nextCompletion = 0
        /// Model requests being handled now (not reset with the stats).
        var requestsInFlight = 0
    }

    let configuration: FakeModelServer.Configuration
    private let locked: Mutex<Locked>

    init(configuration: FakeModelServer.Configuration) {
        self.configuration = configuration
        let controls = configuration.controls
        self.locked = Mutex(
            Locked(
                controls: controls,
                faultGenerator: SeededGenerator(seed: controls.seed),
                jitterGenerator: Self.jitterGenerator(seed: controls.seed)
            )
        )
    }

    private static func jitterGenerator(seed: UInt64) -> SeededGenerator {
        SeededGenerator(seed: seed ^ 0xA5A5_5A5A_C3C3_3C3C)
    }

    // MARK: Controls

    var controls: FakeModelServer.Controls {
        self.locked.withLock { $0.controls }
    }

    /// Replaces the controls after validating them; restarts the draws when `reseed` or the seed changed.
    func setControls(_ controls: FakeModelServer.Controls, reseed: Bool) throws(FakeModelServer.InvalidControls) {
        let problems = controls.problems
        guard problems.isEmpty else { throw FakeModelServer.InvalidControls(problems: problems) }
        self.locked.withLock { state in
            if reseed || state.controls.seed != controls.seed {
                state.faultGenerator = SeededGenerator(seed: controls.seed)
                state.jitterGenerator = Self.jitterGenerator(seed: controls.seed)
            }
            state.controls = controls
        }
    }

    /// Applies `change` to the current controls atomically; nothing changes if the result is invalid.
    @discardableResult
    func updateControls(
        _ change: (inout FakeModelServer.Controls) throws -> Void
    ) throws -> FakeModelServer.Controls {
        try self.locked.withLock { state in
            var controls = state.controls
            try change(&controls)
            let problems = controls.problems
            guard problems.isEmpty else { throw FakeModelServer.InvalidControls(problems: problems) }
            if state.controls.seed != controls.seed {
                state.faultGenerator = SeededGenerator(seed: controls.seed)
                state.jitterGenerator = Self.jitterGenerator(seed: controls.seed)
            }
            state.controls = controls
            return controls
        }
    }

    /// Applies a `POST /control` body atomically.
    func apply(_ patch: ControlsPatch) throws(FakeModelServer.InvalidControls) -> FakeModelServer.Controls {
        let initial = self.configuration.controls
        let result: Result<FakeModelServer.Controls, FakeModelServer.InvalidControls> = self.locked.withLock { state in
            let controls = patch.applied(to: state.controls, initial: initial)
            let problems = controls.problems
            guard problems.isEmpty else { return .failure(FakeModelServer.InvalidControls(problems: problems)) }
            if patch.setsSeed || patch.reset || state.controls.seed != controls.seed {
                state.faultGenerator = SeededGenerator(seed: controls.seed)
                state.jitterGenerator = Self.jitterGenerator(seed: controls.seed)
            }
            state.controls = controls
            return .success(controls)
        }
        return try result.get()
    }

    // MARK: Faults

    /// Decides the fate of a model request on `endpoint` whose texts (inputs or message contents) are `texts`.
    /// Draws exactly one fault number and one jitter number when faults apply to the endpoint.
    func decide(_ endpoint: FakeModelServer.Endpoint, texts: [String]) -> FaultDecision {
        self.locked.withLock { state in
            let controls = state.controls
            guard controls.faultEndpoints.contains(endpoint) else {
                return FaultDecision(action: .answer, delay: .zero, controls: controls)
            }
            let draw = state.faultGenerator.nextUnit()
            let jitter = state.jitterGenerator.nextUnit() * controls.jitterMilliseconds
            let delay = Duration.microseconds(Int64(((controls.latencyMilliseconds + jitter) * 1000).rounded()))

            if let (substring, status) = controls.failure(for: texts) {
                let reason = "the input contains \"\(substring)\", which this fake model server refuses (fail_on_text)"
                return FaultDecision(action: .fail(status: status, outcome: .rejected, reason: reason), delay: delay, controls: controls)
            }

            var low = 0.0
            func band(_ rate: Double) -> (hit: Bool, position: Double) {
                let high = min(1, low + rate)
                defer { low = high }
                guard draw >= low && draw < high else { return (false, 0) }
                return (true, (draw - low) / (high - low))
            }
            let action: FaultDecision.Action
            if band(controls.rate429).hit {
                action = .fail(status: 429, outcome: .rateLimited, reason: "Rate limit reached for requests (fake model server, rate_429).")
            } else if band(controls.rate500).hit {
                action = .fail(status: 500, outcome: .internalServerError, reason: "The server had an error while processing your request (fake model server, rate_500).")
            } else if band(controls.rate503).hit {
                action = .fail(status: 503, outcome: .serviceUnavailable, reason: "The engine is currently overloaded, please try again later (fake model server, rate_503).")
            } else if case let (true, position) = band(controls.rateMalformed) {
                switch controls.malformedMode {
                case .invalidJSON, .missingField: action = .malformed(controls.malformedMode)
                case .mixed: action = .malformed(position < 0.5 ? .invalidJSON : .missingField)
                }
            } else if band(controls.rateHang).hit {
                action = .hang(.microseconds(Int64((controls.hangSeconds * 1_000_000).rounded())))
            } else {
                action = .answer
            }
            return FaultDecision(action: action, delay: delay, controls: controls)
        }
    }

    // MARK: Stats

    var stats: FakeModelServer.Stats {
        self.locked.withLock { $0.stats }
    }

    func resetStats() {
        self.locked.withLock { $0.stats = FakeModelServer.Stats() }
    }

    /// Model requests being handled now.
    var requestsInFlight: Int {
        self.locked.withLock { $0.requestsInFlight }
    }

    /// Counts a model request as being handled until the returned value's ``InFlightRequest/end()``.
    func startRequest() -> InFlightRequest {
        self.locked.withLock { state in
            state.requestsInFlight += 1
            state.stats.peakConcurrentRequests = max(state.stats.peakConcurrentRequests, state.requestsInFlight)
        }
        return InFlightRequest(state: self)
    }

    fileprivate func endRequest() {
        self.locked.withLock { $0.requestsInFlight -= 1 }
    }

    /// Runs `change` on the counters under the lock.
    func record(_ change: (inout FakeModelServer.Stats) -> Void) {
        self.locked.withLock { change(&$0.stats) }
    }

    /// A new completion id, `chatcmpl-fake-N`.
    func nextCompletionID() -> String {
        let number = self.locked.withLock { state in
            state.nextCompletion += 1
            return state.nextCompletion
        }
        return "chatcmpl-fake-\(number)"
    }
}

/// One model request being handled, for ``FakeModelServer/Stats/peakConcurrentRequests``. ``end()`` is
/// idempotent; dropping the value ends it too (a response body that is never written).
final class InFlightRequest: Sendable {
    private let state: ServerState
    private let ended = Mutex(false)

    fileprivate init(state: ServerState) {
        self.state = state
    }

    deinit {
        self.end()
    }

    /// Stops counting the request.
    func end() {
        let first = self.ended.withLock { ended in
            defer { ended = true }
            return !ended
        }
        if first { self.state.endRequest() }
    }
}
