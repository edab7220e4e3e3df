import MiniLM
import Testing

/// Tokenizer cases where a naive BERT tokenizer diverges from the reference `BertTokenizerFast`.
/// Expected ids were produced with Hugging Face `tokenizers` 0.23.3 from this model's tokenizer.json.
@Suite("MiniLM tokenizer", .enabled(if: MiniLMTestSupport.runModelTests, MiniLMTestSupport.skipMessage))
struct WordPieceTokenizerTests {
    static let cases: [(text: String, ids: [Int32], why: String)] = [
        ("", [101, 102], "empty text is [CLS] [SEP]"),
        ("   \t\n  ", [101, 102], "whitespace-only text is [CLS] [SEP]"),
        ("Hello, World!", [101, 7592, 1010, 2088, 999, 102], "lower-casing and punctuation split"),
        ("café naïve résumé", [101, 7668, 15743, 13746, 102], "accents stripped (NFD, marks dropped)"),
        ("e\u{301}", [101, 1041, 102], "a decomposed accent is dropped too"),
        ("Ångström ﬁne", [101, 17076, 15687, 1984, 2638, 102], "no NFKC: the ﬁ ligature stays one character"),
        ("ＡＢＣ abc", [101, 100, 5925, 102], "full-width letters are not folded (no NFKC) and become [UNK]"),
        ("東京は日本の首都です", [101, 1879, 1755, 1672, 1864, 1876, 1671, 100, 1961, 1665, 30184, 102],
         "CJK ideographs split one by one; kana are not; で loses its voicing mark"),
        ("한국어", [101, 1469, 30006, 30021, 29991, 30014, 30020, 29999, 30008, 102],
         "hangul is decomposed to jamo and matched byte-wise, not by canonical equivalence"),
        ("x\u{200B}y\u{FEFF}z", [101, 1060, 2100, 2480, 102], "zero-width and BOM characters are removed, joining the word"),
        ("a\u{0}b\u{7}c\u{FFFD}d", [101, 5925, 2094, 102], "NUL, controls and U+FFFD are removed"),
        ("a\u{A0}b\u{3000}c\u{2028}d", [101, 1037, 1038, 1039, 1040, 102], "Unicode whitespace separates words"),
        ("tab\tsep\rnew\nline", [101, 21628, 19802, 2047, 2240, 102], "tab, CR and LF separate words"),
        ("unaffable", [101, 14477, 20961, 3468, 102], "WordPiece ## continuation pieces"),
        ("don't", [101, 2123, 1005, 1056, 102], "apostrophe is punctuation"),
        ("$5+3=8 <tag> ~x^2 `code` a|b",
         [101, 1002, 1019, 1009, 1017, 1027, 1022, 1026, 6415, 1028, 1066, 1060, 1034, 1016, 1036, 3642, 1036, 1037, 1064, 1038, 102],
         "ASCII symbols $ + = < > ~ ^ ` | count as punctuation"),
        ("1,000.50€", [101, 1015, 1010, 2199, 1012, 2753, 30102, 102], "€ is a symbol, not punctuation: it stays in the word"),
        ("¿Qué?", [101, 1094, 10861, 1029, 102], "Unicode punctuation ¿ is split"),
        ("ΣΑΣ", [101, 1173, 14608, 29733, 102], "lower-casing per character: no final sigma"),
        ("İstanbul", [101, 9960, 102], "dotted capital I: accent stripped before lower-casing"),
        ("x² + y²", [101, 1060, 10701, 1009, 1061, 10701, 102], "superscript two is kept (no NFKC)"),
        ("I love pizza 🍕", [101, 1045, 2293, 10733, 100, 102], "emoji become [UNK]"),
        ("hello [MASK] world", [101, 7592, 103, 2088, 102], "special tokens written literally are recognised"),
        ("a[SEP]b", [101, 1037, 102, 1038, 102], "a literal special token splits the text around it"),
        ("[mask] [CLS]", [101, 1031, 7308, 1033, 101, 102], "special tokens match case-sensitively"),
        (String(repeating: "naïve", count: 30), [101, 100, 102], "a word over 100 characters is one [UNK]"),
        ("hello\u{61D}world", [101, 100, 102], "punctuation added after Unicode 8.0 (U+061D) does not split, as in the reference"),
        ("x\u{2E52}y", [101, 100, 102], "same for U+2E52 (Unicode 13)"),
        ("hello\u{166D}world", [101, 7592, 100, 2088, 102], "U+166D was punctuation in Unicode 8.0 and still splits"),
        ("a\u{1734}b", [101, 11113, 102], "U+1734 was a nonspacing mark in Unicode 8.0 and is still stripped"),
    ]

    @Test("reference token ids for tricky inputs", .timeLimit(.minutes(2)))
    func trickyInputs() throws {
        let embedder = try MiniLMTestSupport.sharedEmbedder()
        for testCase in Self.cases {
            #expect(embedder.tokenize(testCase.text) == testCase.ids, "\(testCase.why): \(testCase.text.debugDescription)")
        }
    }

    @Test("a 100-character word is split, a 101-character word is [UNK]", .timeLimit(.minutes(1)))
    func maxInputCharsPerWord() throws {
        let embedder = try MiniLMTestSupport.sharedEmbedder()
        let hundred = embedder.tokenize(String(repeating: "a", count: 100))
        #expect(hundred.count == 52)
        #expect(hundred.first == 101 && hundred.last == 102)
        #expect(hundred[1] == 13360 && hundred[2] == 11057 && hundred[50] == 2050)
        #expect(embedder.tokenize(String(repeating: "a", count: 101)) == [101, 100, 102])
    }

    @Test("long texts are truncated to 256 ids, keeping [CLS] and [SEP]", .timeLimit(.minutes(1)))
    func truncation() throws {
        let embedder = try MiniLMTestSupport.sharedEmbedder()
        #expect(embedder.maxSequenceLength == 256)
        let ids = embedder.tokenize(Array(repeating: "word", count: 300).joined(separator: " "))
        #expect(ids.count == 256)
        #expect(ids.first == 101)
        #expect(ids.last == 102)
        #expect(ids.dropFirst().dropLast().allSatisfy { $0 == 2773 })
        let exact = embedder.tokenize(Array(repeating: "word", count: 254).joined(separator: " "))
        #expect(exact.count == 256 && exact.last == 102)
        let truncatedInsideWord = embedder.tokenize(Array(repeating: "word", count: 253).joined(separator: " ") + " unaffable")
        #expect(truncatedInsideWord.count == 256)
        #expect(Array(truncatedInsideWord.suffix(2)) == [14477, 102], "truncation may cut a word's pieces, like the reference")
    }
}
