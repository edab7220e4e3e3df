/// A compiled `pattern` keyword: an ECMA-262 regular expression, matched anywhere in the string (JSON
/// Schema patterns are not implicitly anchored).
///
/// Patterns of the form `^[class]quantifier$` — which is what the bundled schemas use — are matched by a
/// hand-written scanner over Unicode scalars: exact ECMA semantics, no regex engine, no allocation. Any
/// other pattern is compiled once with `NSRegularExpression` (ICU), after rewriting the constructs whose
/// meaning differs between ECMA-262 and ICU: `$` (ICU also matches before a final line terminator; ECMA
/// only at the very end, so it becomes `\z`), and `\d`, `\w`, `\D`, `\W` outside classes and `\d`, `\w`
/// inside them (ICU's are Unicode-aware; ECMA's are ASCII).
struct SchemaPattern: Sendable {
    /// The pattern as written in the schema.
    let source: String
    private let matcher: Matcher

    private enum Matcher: Sendable {
        case scalarRun(ScalarClass, ascii: ASCIIBitmap?, minimum: Int, maximum: Int?)
        case regex(CompiledRegex)
    }

    /// Compiles `source`; throws a message when it is not a regular expression.
    init(_ source: String) throws(PatternError) {
        self.source = source
        if let run = Self.parseScalarRun(source) {
            matcher = .scalarRun(run.scalarClass, ascii: run.scalarClass.asciiBitmap, minimum: run.minimum, maximum: run.maximum)
        } else {
            matcher = .regex(try CompiledRegex(ecmaPattern: source))
        }
    }

    /// Whether the pattern matches somewhere in `string`.
    func matches(_ string: String) -> Bool {
        switch matcher {
        case .scalarRun(let scalarClass, let asciiBitmap, let minimum, let maximum):
            var count = 0
            if let ascii = asciiBitmap {
                // Every range is ASCII: decide on UTF-8 bytes; a non-ASCII scalar is in the class only
                // when the class is negated. Count scalars by their first bytes.
                for byte in string.utf8 {
                    if byte < 0x80 {
                        guard ascii.contains(byte) != scalarClass.negated else { return false }
                    } else if byte & 0b1100_0000 == 0b1000_0000 {
                        continue  // continuation byte of the current scalar
                    } else if !scalarClass.negated {
                        return false
                    }
                    count += 1
                    if let maximum, count > maximum { return false }
                }
                return count >= minimum
            }
            for scalar in string.unicodeScalars {
                guard scalarClass.contains(scalar.value) else { return false }
                count += 1
                if let maximum, count > maximum { return false }
            }
            return count >= minimum
        case .regex(let regex):
            return regex.matches(string)
        }
    }

    /// A set of ASCII bytes.
    struct ASCIIBitmap: Sendable {
        private var low: UInt64 = 0
        private var high: UInt64 = 0

        mutating func insert(_ byte: UInt8) {
            if byte < 64 { low |= 1 << UInt64(byte) } else { high |= 1 << UInt64(byte - 64) }
        }

        func contains(_ byte: UInt8) -> Bool {
            byte < 64 ? low & (1 << UInt64(byte)) != 0 : high & (1 << UInt64(byte &- 64)) != 0
        }
    }

    struct PatternError: Error {
        let message: String
    }

    // MARK: - The `^[class]quantifier$` fast path

    /// A set of Unicode scalar values given as ranges, possibly negated.
    struct ScalarClass: Sendable {
        var negated = false
        var ranges: [ClosedRange<UInt32>] = []

        /// The ranges as a bitmap of ASCII bytes (ignoring `negated`), when every range is ASCII.
        var asciiBitmap: ASCIIBitmap? {
            guard ranges.allSatisfy({ $0.upperBound < 0x80 }) else { return nil }
            var bitmap = ASCIIBitmap()
            for range in ranges {
                for value in range { bitmap.insert(UInt8(value)) }
            }
            return bitmap
        }

        func contains(_ value: UInt32) -> Bool {
            var inRanges = false
            for range in ranges where range.contains(value) {
                inRanges = true
                break
            }
            return inRanges != negated
        }
    }

    /// Parses a pattern that is exactly `^`, one bracket class, an optional greedy quantifier and `$`;
    /// `nil` for anything else (which then goes to the regex engine).
    static func parseScalarRun(_ source: String) -> (scalarClass: ScalarClass, minimum: Int, maximum: Int?)? {
        var scalars = Array(source.unicodeScalars)[...]
        guard scalars.popFirst() == "^", scalars.popLast() == "$", scalars.popFirst() == "[" else { return nil }
        var scalarClass = ScalarClass()
        if scalars.first == "^" {
            scalarClass.negated = true
            scalars.removeFirst()
        }
        // Class atoms, with `a-b` ranges. A `]` right after `[` or `[^` closes the class, as in ECMA:
        // `[]` matches nothing and `[^]` any character.
        var atoms: [UInt32] = []
        var closed = false
        while let scalar = scalars.popFirst() {
            if scalar == "]" {
                closed = true
                break
            }
            let value: UInt32
            if scalar == "\\" {
                guard let escaped = scalars.popFirst() else { return nil }
                switch escaped {
                case "d":
                    scalarClass.ranges.append(0x30...0x39)
                    continue
                case "w":
                    scalarClass.ranges += [0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F...0x5F]
                    continue
                case "t": value = 0x09
                case "n": value = 0x0A
                case "v": value = 0x0B
                case "f": value = 0x0C
                case "r": value = 0x0D
                case "u":
                    guard scalars.count >= 4, let code = UInt32(String(String.UnicodeScalarView(scalars.prefix(4))), radix: 16),
                        !(0xD800...0xDFFF).contains(code)
                    else { return nil }
                    scalars.removeFirst(4)
                    value = code
                default:
                    // Identity escapes of punctuation (`\-`, `\]`, `\\`, `\.`, `\/`); letters and digits are
                    // class escapes or back references with meanings this fast path does not model.
                    guard escaped.isASCII, !escaped.properties.isAlphabetic, !("0"..."9").contains(escaped) else { return nil }
                    value = escaped.value
                }
            } else {
                value = scalar.value
            }
            atoms.append(value)
            // A range `a-b`, unless the `-` is the class's last character.
            if scalars.first == "-", scalars.dropFirst().first != "]", scalars.count >= 2 {
                scalars.removeFirst()
                guard let upperScalar = scalars.popFirst(), upperScalar != "\\", upperScalar != "]" else { return nil }
                let lower = atoms.removeLast()
                guard lower <= upperScalar.value else { return nil }
                scalarClass.ranges.append(lower...upperScalar.value)
            }
        }
        guard closed else { return nil }
        scalarClass.ranges += atoms.map { $0...$0 }

        let quantifier = String(String.UnicodeScalarView(scalars))
        switch quantifier {
        case "": return (scalarClass, 1, 1)
        case "*": return (scalarClass, 0, nil)
        case "+": return (scalarClass, 1, nil)
        case "?": return (scalarClass, 0, 1)
        default:
            guard quantifier.hasPrefix("{"), quantifier.hasSuffix("}") else { return nil }
            let bounds = quantifier.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false)
            guard let minimum = bounds.first.flatMap({ Int($0) }) else { return nil }
            switch bounds.count {
            case 1: return (scalarClass, minimum, minimum)
            case 2 where bounds[1].isEmpty: return (scalarClass, minimum, nil)
            case 2:
                guard let maximum = Int(bounds[1]), maximum >= minimum else { return nil }
                return (scalarClass, minimum, maximum)
            default: return nil
            }
        }
    }
}
