import ModelClients
import Schemas

/// The default answerer, with no model and no network (SPEC §8): composes the answer from the retrieved
/// passages themselves — from the best passage, the sentence that shares the most words with the question,
/// and from the next passage its best sentence when that one is about as relevant — and cites them. Its
/// `model` says that no language model was involved.
struct ExtractiveAnswerer: Answerer {
    var model: String { "extractive (no LLM)" }
    var sendsPromptOutside: Bool { false }

    func answer(_ request: AnswerRequest, onDelta: @escaping @Sendable (String) async -> Void) async throws(AnswerFailure) -> AnswerDraft {
        let questionWords = Self.words(request.question)
        var pieces: [String] = []
        var cited: [Int] = []
        for (index, passage) in request.passages.prefix(2).enumerated() {
            let (sentence, overlap) = Self.bestSentence(of: passage.text, for: questionWords)
            // The second passage only when it also speaks to the question and ranks close to the first.
            if index > 0 && (overlap == 0 || passage.score < request.passages[0].score - 0.1) { break }
            pieces.append("\(sentence) [\(index + 1)]")
            cited.append(index + 1)
        }
        var text = ""
        for (index, piece) in pieces.enumerated() {
            let delta = index == 0 ? piece : " " + piece
            text += delta
            await onDelta(delta)
        }
        let usage = TokenUsage(promptTokens: ClientRateLimiter.estimatedTokens(for: request.prompt),
                               completionTokens: ClientRateLimiter.estimatedTokens(for: text))
        return AnswerDraft(text: text, cited: cited, isRefusal: false, usage: usage, modelVersion: "extractive-v1")
    }

    /// The sentence of `text` sharing the most words with the question (the first on a tie), and how many.
    static func bestSentence(of text: String, for questionWords: Set<String>) -> (String, Int) {
        var best = (text.trimmingCharacters(in: .whitespacesAndNewlines), 0)
        for sentence in sentences(of: text) {
            let overlap = words(sentence).intersection(questionWords).count
            if overlap > best.1 { best = (sentence, overlap) }
        }
        return best
    }

    /// `text` cut after `.`, `!` or `?` followed by white space; each sentence trimmed.
    static func sentences(of text: String) -> [String] {
        var sentences: [String] = []
        var current = ""
        var previous: Character = " "
        for character in text {
            if character.isWhitespace && ".!?".contains(previous) {
                let sentence = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !sentence.isEmpty { sentences.append(sentence) }
                current = ""
            } else {
                current.append(character)
            }
            previous = character
        }
        let last = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !last.isEmpty { sentences.append(last) }
        return sentences
    }

    /// Lower-cased words of three letters or more, without common function words.
    static func words(_ text: String) -> Set<String> {
        Set(text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init).filter { $0.count >= 3 && !stopWords.contains($0) })
    }

    private static let stopWords: Set<String> = [
        "the", "and", "for", "are", "was", "were", "with", "that", "this", "what", "which", "who", "whom", "how", "does", "did",
        "have", "has", "had", "can", "could", "should", "would", "will", "our", "your", "their", "there", "from", "about", "into",
        "many", "much", "any", "all", "per", "not", "but", "you", "its", "when", "where", "why", "a", "an", "of", "to", "in",
    ]
}
