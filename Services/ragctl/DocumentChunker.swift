import Foundation

/// Splits a text or Markdown document into overlapping chunks for `ragctl ingest`.
///
/// Markdown (`isMarkdown`): ATX headings (`#` to `######`, outside fenced code blocks) open sections; each
/// chunk of a section starts with the section's heading path — the heading lines from the top level down to
/// the section's own, e.g. `# Guide\n## Install` — then a blank line, then the text. Chunks never span
/// sections, so a chunk's heading path always describes all of its text; overlap applies within a section.
/// Text before the first heading, and plain text files, have an empty heading path.
///
/// Size: a chunk's body (without the heading path) holds at most `maxCharacters` characters; it is cut at
/// the last paragraph break, else line break, else sentence end, else space in the second half of the
/// window, and only mid-word when a "word" is longer than half the window. Consecutive chunks of a section
/// share about `overlap` characters (the next one starts at a word boundary near `end − overlap`).
struct DocumentChunker: Sendable {
    struct Chunk: Sendable, Equatable {
        /// The heading lines of the chunk's section, outermost first (empty outside any section).
        var headingPath: [String]
        /// The chunk as stored: the heading path, a blank line, the body.
        var text: String
    }

    var maxCharacters: Int
    var overlap: Int

    init(maxCharacters: Int = 1000, overlap: Int = 150) {
        precondition(maxCharacters >= 50 && overlap >= 0 && overlap < maxCharacters / 2)
        self.maxCharacters = maxCharacters
        self.overlap = overlap
    }

    func chunks(of document: String, isMarkdown: Bool) -> [Chunk] {
        let sections = isMarkdown ? Self.markdownSections(document) : [(heading: [String](), body: document)]
        var chunks: [Chunk] = []
        for section in sections {
            let prefix = section.heading.isEmpty ? "" : section.heading.joined(separator: "\n") + "\n\n"
            for body in split(section.body) {
                chunks.append(Chunk(headingPath: section.heading, text: prefix + body))
            }
        }
        return chunks
    }

    /// Sections in document order: each heading's path and the text up to the next heading.
    static func markdownSections(_ document: String) -> [(heading: [String], body: String)] {
        var sections: [(heading: [String], body: String)] = []
        var path: [(level: Int, line: String)] = []
        var body: [Substring] = []
        var fence: Substring?
        func close() {
            let text = body.joined(separator: "\n")
            if !text.allSatisfy(\.isWhitespace) { sections.append((path.map(\.line), text)) }
            body.removeAll()
        }
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == " " }
            if let open = fence {
                if trimmed.hasPrefix(open) { fence = nil }
                body.append(line)
                continue
            }
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                fence = trimmed.prefix(3)
                body.append(line)
                continue
            }
            if let level = headingLevel(trimmed), line.count - trimmed.count <= 3 {
                close()
                path.removeAll { $0.level >= level }
                path.append((level, trimmed.trimmingTrailingWhitespace()))
                continue
            }
            body.append(line)
        }
        close()
        return sections
    }

    /// The level of an ATX heading line (`## Title` → 2), or nil.
    private static func headingLevel(_ line: Substring) -> Int? {
        let hashes = line.prefix { $0 == "#" }.count
        guard (1...6).contains(hashes) else { return nil }
        let rest = line.dropFirst(hashes)
        return rest.isEmpty || rest.first == " " || rest.first == "\t" ? hashes : nil
    }

    /// The body split into windows of at most `maxCharacters`, overlapping by about `overlap`.
    func split(_ body: String) -> [String] {
        let characters = Array(body.trimmingCharacters(in: .whitespacesAndNewlines))
        guard !characters.isEmpty else { return [] }
        var pieces: [String] = []
        var start = 0
        while start < characters.count {
            var end = min(start + maxCharacters, characters.count)
            if end < characters.count { end = Self.breakPoint(in: characters, from: start, to: end) }
            let piece = String(characters[start..<end]).trimmingCharacters(in: .whitespacesAndNewlines)
            if !piece.isEmpty { pieces.append(piece) }
            guard end < characters.count else { break }
            // Start the next window `overlap` back, at the start of a word, but always move forward.
            var next = max(end - overlap, start + 1)
            while next > start + 1 && next < end && !characters[next - 1].isWhitespace { next -= 1 }
            if next <= start { next = end }
            while next < characters.count && characters[next].isWhitespace { next += 1 }
            start = next
        }
        return pieces
    }

    /// Where to end a window that would end at `limit`: the best boundary in its second half.
    private static func breakPoint(in characters: [Character], from start: Int, to limit: Int) -> Int {
        let floor = start + (limit - start) / 2
        func last(where matches: (Int) -> Bool) -> Int? {
            var index = limit
            while index > floor {
                if matches(index) { return index }
                index -= 1
            }
            return nil
        }
        if let paragraph = last(where: { characters[$0 - 1] == "\n" && $0 >= 2 && characters[$0 - 2] == "\n" }) { return paragraph }
        if let line = last(where: { characters[$0 - 1] == "\n" }) { return line }
        if let sentence = last(where: { $0 < characters.count && characters[$0].isWhitespace && ".!?".contains(characters[$0 - 1]) }) {
            return sentence
        }
        if let space = last(where: { characters[$0 - 1].isWhitespace }) { return space }
        return limit
    }
}

extension Substring {
    func trimmingTrailingWhitespace() -> String {
        var text = self
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
