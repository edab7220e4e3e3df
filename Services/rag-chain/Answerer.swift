import ModelClients
import Schemas

/// Produces the answer to a question from its retrieved passages: the extractive answerer (no model) or a
/// chat model (`ChatAnswerer`). rag-chain depends on this protocol only.
protocol Answerer: Sendable {
    /// The `model` of the result and the `model` / `model-version` headers; says "no LLM" for the extractive one.
    var model: String { get }
    /// Whether the prompt leaves this process for an external model — then personal data in it is masked.
    var sendsPromptOutside: Bool { get }

    /// Answers `request`, passing the pieces of the answer to `onDelta` as they are produced, in order.
    func answer(_ request: AnswerRequest, onDelta: @escaping @Sendable (String) async -> Void) async throws(AnswerFailure) -> AnswerDraft
}

/// What an answerer gets.
struct AnswerRequest: Sendable {
    var question: String
    /// In rank order; an answer cites them by number, from 1.
    var passages: [RetrievedChunk]
    /// The exact model input (the rendered, masked prompt), as also published to rag.context.
    var prompt: String
}

/// An answer before it is recorded.
struct AnswerDraft: Sendable, Equatable {
    var text: String
    /// The cited passages' numbers (1-based), in the order the answer first cites them.
    var cited: [Int]
    /// The model found no answer in the passages (its `NO_ANSWER`): the result is `refused`.
    var isRefusal: Bool
    var usage: TokenUsage
    /// The exact model that produced it, as the provider reported it (the `model-version` header).
    var modelVersion: String
    /// Answers generated for it: more than 1 when the model's output failed validation first (the result is
    /// then flagged for human review, a `review-flag` header).
    var attempts: Int = 1
}

/// Why no answer came about.
enum AnswerFailure: Error, CustomStringConvertible {
    /// The model kept producing output that fails validation; `raw` is the last output.
    case invalidOutput(raw: String, problem: String, attempts: Int)
    /// The model call failed for good (refused, or still failing after its retries).
    case modelCall(ModelCallError)

    var description: String {
        switch self {
        case .invalidOutput(_, let problem, let attempts): "the model's output failed validation \(attempts) times: \(problem)"
        case .modelCall(let error): "the model call failed: \(error)"
        }
    }
}

/// The rules a model's answer text must satisfy, and the citations it makes.
enum AnswerText {
    /// The exact reply that means "the passages do not contain the answer".
    static let noAnswer = "NO_ANSWER"

    enum Verdict: Equatable {
        case answer(cited: [Int])
        case noAnswer
        case invalid(String)
    }

    /// Checks `text` against `passageCount` passages: a non-empty answer without U+0000, at most 100,000
    /// characters, citing at least one passage with `[n]`, and only passages that exist; or exactly `NO_ANSWER`.
    static func check(_ text: String, passageCount: Int) -> Verdict {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed == noAnswer { return .noAnswer }
        guard !trimmed.isEmpty else { return .invalid("the answer is empty") }
        guard text.count <= 100_000 else { return .invalid("the answer has more than 100,000 characters") }
        guard !text.unicodeScalars.contains("\u{0}") else { return .invalid("the answer contains U+0000") }
        let cited = citations(in: trimmed)
        guard !cited.isEmpty else { return .invalid("the answer cites no passage ([n])") }
        if let unknown = cited.first(where: { !(1...passageCount).contains($0) }) {
            return .invalid("the answer cites [\(unknown)], but there are \(passageCount) passages")
        }
        return .answer(cited: cited)
    }

    /// The numbers `n` of every `[n]` in `text`, each once, in order of first appearance.
    static func citations(in text: String) -> [Int] {
        var found: [Int] = []
        var digits = ""
        var inBracket = false
        for character in text {
            switch character {
            case "[":
                inBracket = true
                digits = ""
            case "]":
                if inBracket, let number = Int(digits), !found.contains(number) { found.append(number) }
                inBracket = false
            default:
                if inBracket {
                    if character.isASCII && character.isNumber && digits.count < 4 { digits.append(character) } else { inBracket = false }
                }
            }
        }
        return found
    }
}
