/// The deterministic chat answer and its split into streamed pieces.
enum ChatAnswer {
    /// The answer text for a request: the canned answer whose key the last user message contains, else the
    /// template with `{question}` replaced by that message; wrapped as `{"answer": …}` when JSON was asked for
    /// and no canned answer matched.
    static func text(for request: ChatCompletionRequest, controls: FakeModelServer.Controls) -> String {
        let question = request.lastUserMessage
        if let canned = controls.cannedAnswer(for: question) {
            return canned
        }
        let answer = controls.answerTemplate.replacing("{question}", with: question)
        return request.wantsJSON ? "{\"answer\":\(JSONCoding.quoted(answer))}" : answer
    }

    /// `text` cut into one piece per word, each with the whitespace before it (trailing whitespace goes with the
    /// last piece), so the pieces concatenate back to `text` exactly.
    static func pieces(of text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var inWord = false
        for character in text {
            if character.isWhitespace {
                if inWord {
                    pieces.append(current)
                    current = ""
                    inWord = false
                }
            } else {
                inWord = true
            }
            current.append(character)
        }
        if !current.isEmpty {
            if !inWord, !pieces.isEmpty {
                pieces[pieces.count - 1] += current
            } else {
                pieces.append(current)
            }
        }
        return pieces
    }

    /// Whitespace-separated words: the fake server's token count. ASCII text (the usual case, and every
    /// prompt of the latency benchmark) is counted byte by byte: splitting into Characters cost the fake
    /// server more CPU than the rest of a chat request.
    static func tokenCount(_ text: String) -> Int {
        let utf8 = text.utf8
        guard utf8.allSatisfy({ $0 < 0x80 }) else { return text.split(whereSeparator: \.isWhitespace).count }
        var words = 0
        var inWord = false
        for byte in utf8 {
            let isSpace = byte == 0x20 || (0x09...0x0D).contains(byte)
            if !isSpace && !inWord { words += 1 }
            inWord = !isSpace
        }
        return words
    }
}
