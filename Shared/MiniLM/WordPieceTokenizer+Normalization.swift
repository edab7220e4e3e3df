import Foundation

/// `BertNormalizer` and the character classes of `BertPreTokenizer`.
extension WordPieceTokenizer {
    /// Cleans, spaces CJK ideographs, strips accents and lower-cases `text`, per the tokenizer's flags.
    func normalize(_ text: Substring) -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.utf8.count)
        var allASCII = true
        for scalar in text.unicodeScalars {
            if cleanText {
                if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
                if Self.isWhitespace(scalar) {
                    scalars.append(" ")
                    continue
                }
            }
            if !scalar.isASCII { allASCII = false }
            if handleChineseChars, Self.isCJKIdeograph(scalar) {
                scalars.append(" ")
                scalars.append(scalar)
                scalars.append(" ")
            } else {
                scalars.append(scalar)
            }
        }
        if allASCII {
            if lowercase {
                for index in scalars.indices where scalars[index].value &- 0x41 < 26 {
                    scalars[index] = Unicode.Scalar(UInt8(truncatingIfNeeded: scalars[index].value | 0x20))
                }
            }
            return scalars
        }
        if stripAccents {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            let decomposed = String(view).decomposedStringWithCanonicalMapping
            scalars.removeAll(keepingCapacity: true)
            for scalar in decomposed.unicodeScalars where Self.referenceCategory(scalar) != .nonspacingMark {
                scalars.append(scalar)
            }
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(scalars.count)
            for scalar in scalars {
                if scalar.isASCII {
                    lowered.append(scalar.value &- 0x41 < 26 ? Unicode.Scalar(UInt8(truncatingIfNeeded: scalar.value | 0x20)) : scalar)
                } else {
                    // Per scalar, without context (no final-sigma rule), like the reference.
                    lowered.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
                }
            }
            scalars = lowered
        }
        return scalars
    }

    /// The general category as the reference tokenizer sees it. Its control, punctuation and
    /// nonspacing-mark tests use Unicode 8.0 tables, so characters assigned later count as unassigned
    /// (no category: kept, not split, not stripped), and the seven characters whose category changed
    /// since 8.0 keep their 8.0 category. Whitespace and lower-casing use current Unicode there as here.
    /// (Checked against the reference on every code point, alone and between letters.)
    @inline(__always)
    static func referenceCategory(_ scalar: Unicode.Scalar) -> Unicode.GeneralCategory? {
        switch scalar.value {
        case 0x166D, 0x111C9: return .otherPunctuation  // now So / Mn
        case 0x1734, 0x1171E: return .nonspacingMark  // now Mc
        case 0x1885, 0x1886: return .otherLetter  // now Mn
        case 0xA9BD: return .spacingMark  // now Mn
        default: break
        }
        let properties = scalar.properties
        guard let age = properties.age, age.major < 8 || (age.major == 8 && age.minor == 0) else { return nil }
        return properties.generalCategory
    }

    /// Tab, newline, carriage return and the Unicode `White_Space` characters.
    @inline(__always)
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            return scalar == " " || (scalar.value >= 0x09 && scalar.value <= 0x0D)
        }
        return scalar.properties.isWhitespace
    }

    /// Control (`Cc`), format (`Cf`), private-use (`Co`) and surrogate (`Cs`) characters, except tab,
    /// newline and carriage return. Unassigned code points (`Cn`) are kept, as in the reference.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: return false
        case 0x20..<0x7F: return false
        default: break
        }
        switch referenceCategory(scalar) {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// BERT's punctuation: all ASCII punctuation (including `$ + < = > ^ \` | ~`) and Unicode `P*`.
    @inline(__always)
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 {
            return (value >= 33 && value <= 47) || (value >= 58 && value <= 64) || (value >= 91 && value <= 96)
                || (value >= 123 && value <= 126)
        }
        switch referenceCategory(scalar) {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// The CJK Unified Ideograph blocks BERT splits into single characters (not kana or hangul).
    static func isCJKIdeograph(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}
