import Metrics
import ModelClients
import Schemas

/// Answers with a chat model (SPEC §8): sends the rendered prompt, streams the answer's pieces, and checks
/// the output (`AnswerText.check`). Output that fails the check is asked for again, up to `attempts` answers
/// in all; only the first attempt's pieces are streamed (a retry's text arrives with the result).
struct ChatAnswerer: Answerer {
    let chat: any ChatProvider
    let attempts: Int
    let maxTokens: Int

    var model: String { chat.model }
    var sendsPromptOutside: Bool { true }

    private static let invalidOutputs = Counter(label: "rag_chain_invalid_model_outputs_total")

    func answer(_ request: AnswerRequest, onDelta: @escaping @Sendable (String) async -> Void) async throws(AnswerFailure) -> AnswerDraft {
        var usage = TokenUsage(promptTokens: 0, completionTokens: 0)
        var lastOutput = ""
        var lastProblem = ""
        for attempt in 1...max(1, attempts) {
            let chatRequest = ChatRequest(messages: [ChatMessage(role: .user, content: request.prompt)], maxTokens: maxTokens, temperature: 0)
            let ignore: @Sendable (String) async -> Void = { _ in }
            let forward = attempt == 1 ? onDelta : ignore
            let completion: ChatCompletion
            do {
                completion = try await chat.complete(chatRequest, onDelta: forward)
            } catch {
                throw .modelCall(error)
            }
            usage.promptTokens += completion.promptTokens
            usage.completionTokens += completion.completionTokens
            switch AnswerText.check(completion.text, passageCount: request.passages.count) {
            case .answer(let cited):
                return AnswerDraft(text: completion.text.trimmingCharacters(in: .whitespacesAndNewlines), cited: cited, isRefusal: false,
                                   usage: usage, modelVersion: completion.model, attempts: attempt)
            case .noAnswer:
                return AnswerDraft(text: completion.text, cited: [], isRefusal: true, usage: usage, modelVersion: completion.model,
                                   attempts: attempt)
            case .invalid(let problem):
                Self.invalidOutputs.increment()
                lastOutput = completion.text
                lastProblem = problem
            }
        }
        throw .invalidOutput(raw: lastOutput, problem: lastProblem, attempts: max(1, attempts))
    }
}
