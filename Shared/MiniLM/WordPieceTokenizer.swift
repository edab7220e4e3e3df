import Foundation

/// A BERT WordPiece tokenizer read from a Hugging Face `tokenizer.json`, equivalent to the reference
/// `BertTokenizerFast` for models whose normalizer is `BertNormalizer` and pre-tokenizer `BertPreTokenizer`.
///
/// Pipeline, in the reference's order:
/// 1. Added tokens (`[CLS]`, `[SEP]`, `[MASK]`, …) written literally in the raw text are matched first,
///    case-sensitively, leftmost-longest; they become their own ids and split the text around them.
/// 2. `BertNormalizer`: clean text (drop U+0000, U+FFFD and control/format/private-use characters except
///    tab/newline/CR; map Unicode whitespace to a space), put spaces around CJK ideographs, strip accents
///    (NFD, then drop nonspacing marks `Mn`), lower-case each scalar. No NFKC: full-width letters stay as
///    they are and usually become `[UNK]`.
/// 3. `BertPreTokenizer`: split on whitespace, and isolate every punctuation character (ASCII punctuation
///    and the Unicode `P*` categories).
/// 4. WordPiece: greedy longest match, `##` continuation pieces; a word that cannot be fully covered, or
///    is longer than `max_input_chars_per_word` (100) scalars, becomes one `[UNK]`.
/// 5. `[CLS] … [SEP]`, truncated to a maximum length (content first, the markers always kept).
///
/// Character classes follow the reference exactly, including its use of Unicode 8.0 categories (see
/// ``referenceCategory(_:)``); verified against Hugging Face `tokenizers` on every code point and on
/// random multilingual text.
struct WordPieceTokenizer: Sendable {
    let unknownID: Int32
    let classifierID: Int32
    let separatorID: Int32
    let vocabularySize: Int

    private let wordStarts: VocabularyTrie
    private let continuations: VocabularyTrie
    private let maxInputCharsPerWord: Int
    let cleanText: Bool
    let handleChineseChars: Bool
    let stripAccents: Bool
    let lowercase: Bool
    /// Literal added tokens as UTF-8, longest first so that the first match at a position is the longest.
    private let addedTokens: [(bytes: [UInt8], id: Int32)]
    private let addedTokenFirstBytes: Set<UInt8>

    private struct File: Decodable {
        struct Normalizer: Decodable {
            let type: String
            let clean_text: Bool?
            let handle_chinese_chars: Bool?
            let strip_accents: Bool?
            let lowercase: Bool?
        }
        struct PreTokenizer: Decodable {
            let type: String
        }
        struct Model: Decodable {
            let type: String?
            let unk_token: String
            let continuing_subword_prefix: String?
            let max_input_chars_per_word: Int?
            let vocab: [String: Int]
        }
        struct AddedToken: Decodable {
            let id: Int
            let content: String
        }
        let normalizer: Normalizer?
        let pre_tokenizer: PreTokenizer?
        let model: Model
        let added_tokens: [AddedToken]?
    }

    /// Loads `tokenizer.json`; throws a ``MiniLMError`` naming the file if it is missing, malformed
    /// or describes a tokenizer other than BERT WordPiece.
    init(path: String, expectedVocabularySize: Int? = nil) throws {
        let file = try BertConfiguration.decode(File.self, at: path)
        if let type = file.model.type, type != "WordPiece" {
            throw MiniLMError(.unsupportedModel, path: path, "tokenizer model '\(type)' is not WordPiece")
        }
        if let normalizer = file.normalizer, normalizer.type != "BertNormalizer" {
            throw MiniLMError(.unsupportedModel, path: path, "normalizer '\(normalizer.type)' is not BertNormalizer")
        }
        if let preTokenizer = file.pre_tokenizer, preTokenizer.type != "BertPreTokenizer" {
            throw MiniLMError(.unsupportedModel, path: path, "pre_tokenizer '\(preTokenizer.type)' is not BertPreTokenizer")
        }
        let vocabulary = file.model.vocab
        if let expectedVocabularySize, vocabulary.count != expectedVocabularySize {
            throw MiniLMError(
                .invalidModelFile, path: path,
                "vocabulary has \(vocabulary.count) entries, config.json says \(expectedVocabularySize)")
        }
        func id(of token: String) throws -> Int32 {
            guard let id = vocabulary[token] else {
                throw MiniLMError(.invalidModelFile, path: path, "vocabulary has no '\(token)' token")
            }
            return Int32(id)
        }
        self.unknownID = try id(of: file.model.unk_token)
        self.classifierID = try id(of: "[CLS]")
        self.separatorID = try id(of: "[SEP]")
        self.vocabularySize = vocabulary.count

        let prefix = Array((file.model.continuing_subword_prefix ?? "##").utf8)
        var wordStarts = VocabularyTrie()
        var continuations = VocabularyTrie()
        for (token, id) in vocabulary {
            guard id >= 0, id < (expectedVocabularySize ?? Int(Int32.max)) else {
                throw MiniLMError(.invalidModelFile, path: path, "token '\(token)' has invalid id \(id)")
            }
            let bytes = Array(token.utf8)
            wordStarts.insert(bytes, id: Int32(id))
            if bytes.starts(with: prefix) {
                continuations.insert(bytes.dropFirst(prefix.count), id: Int32(id))
            }
        }
        self.wordStarts = wordStarts
        self.continuations = continuations
        self.maxInputCharsPerWord = file.model.max_input_chars_per_word ?? 100

        let normalizer = file.normalizer
        self.cleanText = normalizer?.clean_text ?? false
        self.handleChineseChars = normalizer?.handle_chinese_chars ?? false
        self.lowercase = normalizer?.lowercase ?? false
        self.stripAccents = normalizer.map { $0.strip_accents ?? ($0.lowercase ?? true) } ?? false

        let added = (file.added_tokens ?? []).filter { !$0.content.isEmpty }.map { (bytes: Array($0.content.utf8), id: Int32($0.id)) }
        self.addedTokens = added.sorted { $0.bytes.count > $1.bytes.count }
        self.addedTokenFirstBytes = Set(added.map { $0.bytes[0] })
    }

    /// Token ids for `text`: `[CLS]`, the content truncated to `maxLength - 2` ids, `[SEP]`.
    func encode(_ text: String, maxLength: Int) -> [Int32] {
        let budget = max(maxLength - 2, 0)
        var ids: [Int32] = [classifierID]
        ids.reserveCapacity(min(budget, text.utf8.count) + 2)
        var state = WordState()
        forEachSegment(of: text) { segment in
            switch segment {
            case .addedToken(let id):
                if ids.count - 1 < budget { ids.append(id) }
            case .text(let piece):
                appendTextIDs(of: piece, to: &ids, budget: budget, state: &state)
            }
            return ids.count - 1 < budget
        }
        ids.append(separatorID)
        return ids
    }

    private enum Segment {
        case text(Substring)
        case addedToken(Int32)
    }

    /// Calls `body` with the text pieces and literal added tokens of `text`, in order, until it returns false.
    private func forEachSegment(of text: String, _ body: (Segment) -> Bool) {
        let utf8 = text.utf8
        guard !addedTokens.isEmpty, utf8.contains(where: { addedTokenFirstBytes.contains($0) }) else {
            _ = body(.text(text[...]))
            return
        }
        var pieceStart = utf8.startIndex
        var index = utf8.startIndex
        while index != utf8.endIndex {
            if addedTokenFirstBytes.contains(utf8[index]),
               let token = addedTokens.first(where: { utf8[index...].starts(with: $0.bytes) }) {
                if pieceStart != index, !body(.text(text[pieceStart..<index])) { return }
                if !body(.addedToken(token.id)) { return }
                index = utf8.index(index, offsetBy: token.bytes.count)
                pieceStart = index
            } else {
                index = utf8.index(after: index)
            }
        }
        if pieceStart != utf8.endIndex { _ = body(.text(text[pieceStart...])) }
    }

    /// Reusable buffer for the UTF-8 bytes of the word being collected.
    private struct WordState {
        var bytes: [UInt8] = []
        var scalarCount = 0
    }

    private func appendTextIDs(of text: Substring, to ids: inout [Int32], budget: Int, state: inout WordState) {
        let scalars = normalize(text)
        state.bytes.removeAll(keepingCapacity: true)
        state.scalarCount = 0
        for scalar in scalars {
            if ids.count - 1 >= budget { return }
            if Self.isWhitespace(scalar) {
                flushWord(&state, into: &ids, budget: budget)
            } else if Self.isPunctuation(scalar) {
                flushWord(&state, into: &ids, budget: budget)
                appendScalar(scalar, to: &state)
                flushWord(&state, into: &ids, budget: budget)
            } else {
                appendScalar(scalar, to: &state)
            }
        }
        flushWord(&state, into: &ids, budget: budget)
    }

    private func appendScalar(_ scalar: Unicode.Scalar, to state: inout WordState) {
        if scalar.isASCII {
            state.bytes.append(UInt8(truncatingIfNeeded: scalar.value))
        } else {
            UTF8.encode(scalar) { state.bytes.append($0) }
        }
        state.scalarCount += 1
    }

    /// WordPiece for the collected word; appends its ids (or one `[UNK]`) and clears the word.
    private func flushWord(_ state: inout WordState, into ids: inout [Int32], budget: Int) {
        guard state.scalarCount > 0 else { return }
        defer {
            state.bytes.removeAll(keepingCapacity: true)
            state.scalarCount = 0
        }
        if state.scalarCount > maxInputCharsPerWord {
            ids.append(unknownID)
            return
        }
        let firstPiece = ids.count
        let complete = state.bytes.withUnsafeBufferPointer { bytes -> Bool in
            var start = 0
            while start < bytes.count {
                let trie = start == 0 ? wordStarts : continuations
                guard let match = trie.longestMatch(in: bytes, from: start) else { return false }
                ids.append(match.id)
                start = match.end
            }
            return true
        }
        if !complete {
            ids.removeSubrange(firstPiece...)
            ids.append(unknownID)
        }
        if ids.count - 1 > budget { ids.removeSubrange((budget + 1)...) }
    }
}
