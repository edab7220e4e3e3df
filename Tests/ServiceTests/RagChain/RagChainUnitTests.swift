@testable import RagChain
import Schemas
import Testing

@Suite("rag-chain building blocks")
struct RagChainUnitTests {
    @Test("PII masking: emails, card numbers (Luhn), IBANs (mod 97), phone numbers and configured patterns")
    func piiMasking() throws {
        let masker = PIIMasker(extraPatterns: try PIIMasker.Pattern.parseList(#"employee=EMP-[0-9]{6}"#))
        let (text, masked) = masker.mask("""
            Write to jane.doe@example.com or call +49 30 1234567; card 4111 1111 1111 1111, \
            IBAN DE89 3704 0044 0532 0130 00, staff id EMP-123456. Not a card: 4111 1111 1111 1112. Order 12345.
            """)
        #expect(text == """
            Write to [EMAIL] or call [PHONE]; card [CARD], \
            IBAN [IBAN], staff id [EMPLOYEE]. Not a card: 4111 1111 1111 1112. Order 12345.
            """, "\(text)")
        #expect(masked["email"] == 1 && masked["card"] == 1 && masked["iban"] == 1 && masked["employee"] == 1)
        #expect(!text.contains("jane.doe") && !text.contains("4111 1111 1111 1111") && !text.contains("DE89") && !text.contains("EMP-123456"))
        #expect(text.contains("Order 12345"), "short numbers are not phone numbers")
        #expect(PIIMasker.passesLuhn("4111111111111111") && !PIIMasker.passesLuhn("4111111111111112"))
        #expect(PIIMasker.isValidIBAN("GB82 WEST 1234 5698 7654 32") && !PIIMasker.isValidIBAN("GB82 WEST 1234 5698 7654 33"))
        #expect(throws: (any Error).self) { try PIIMasker.Pattern.parseList("no-equals-sign") }
    }

    @Test("PII masking: each kind alone at its smallest (the digit and @ pre-checks skip no match), configured patterns in text without digits")
    func piiMaskingAtTheBounds() throws {
        let masker = PIIMasker(extraPatterns: try PIIMasker.Pattern.parseList(#"codename=Project [A-Z][a-z]+"#))
        #expect(masker.mask("Call 3012 3456 today.").text == "Call [PHONE] today.", "8 digits: a phone number")
        #expect(masker.mask("Call 3012 345 today.").text == "Call 3012 345 today.", "7 digits: not one")
        #expect(masker.mask("Mail ab@cd.de now").text == "Mail [EMAIL] now")
        #expect(masker.mask("Card 4222222222222 ok").text == "Card [CARD] ok", "13 digits passing Luhn: a card")
        #expect(masker.mask("IBAN GB82 WEST 1234 5698 7654 32.").text == "IBAN [IBAN].")
        #expect(masker.mask("About Project Falcon, no digits here.").text == "About [CODENAME], no digits here.")
        #expect(masker.mask("Nothing personal in this sentence.").masked.isEmpty)
    }

    @Test("model output: cites existing passages, or says NO_ANSWER; anything else is invalid")
    func answerValidation() {
        #expect(AnswerText.check("Twenty-five days [1], see also [3][1].", passageCount: 3) == .answer(cited: [1, 3]))
        #expect(AnswerText.check("  NO_ANSWER\n", passageCount: 3) == .noAnswer)
        #expect(AnswerText.check("Twenty-five days.", passageCount: 3) == .invalid("the answer cites no passage ([n])"))
        #expect(AnswerText.check("Twenty-five days [4].", passageCount: 3) == .invalid("the answer cites [4], but there are 3 passages"))
        #expect(AnswerText.check("   ", passageCount: 3) == .invalid("the answer is empty"))
        #expect(AnswerText.citations(in: "a [12] b [x] c [2 ] d [] e [2]") == [12, 2])
    }

    @Test("the extractive answerer quotes the best-matching sentence of the best passage and cites it")
    func extractive() async throws {
        let passages = [
            RetrievedChunk(chunkID: "c1", docID: "hr", seq: 0, score: 0.71,
                           text: "The office opens at nine. Every employee receives twenty-five days of paid vacation per year. Parking is free."),
            RetrievedChunk(chunkID: "c2", docID: "it", seq: 0, score: 0.30, text: "Laptops are replaced every three years."),
        ]
        let draft = try await ExtractiveAnswerer().answer(
            AnswerRequest(question: "How many vacation days does an employee get?", passages: passages, prompt: "…"), onDelta: { _ in })
        #expect(draft.text == "Every employee receives twenty-five days of paid vacation per year. [1]")
        #expect(draft.cited == [1] && !draft.isRefusal)
    }
}
