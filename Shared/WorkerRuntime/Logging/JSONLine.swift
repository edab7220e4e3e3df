import Logging

/// Builds one JSON object, field by field, in the order fields are added (so log lines read consistently).
struct JSONLine {
    private var text = "{"
    private var isFirst = true

    mutating func field(_ key: String, string value: String) {
        self.field(key) { $0.string(value) }
    }

    mutating func field(_ key: String, _ writeValue: (inout JSONLine) -> Void) {
        if !self.isFirst { self.text += "," }
        self.isFirst = false
        self.string(key)
        self.text += ":"
        writeValue(&self)
    }

    mutating func string(_ value: String) {
        self.text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": self.text += "\\\""
            case "\\": self.text += "\\\\"
            case "\n": self.text += "\\n"
            case "\r": self.text += "\\r"
            case "\t": self.text += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                self.text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                self.text.unicodeScalars.append(scalar)
            }
        }
        self.text += "\""
    }

    /// Writes a metadata value: strings as strings, numbers and booleans as such, arrays as arrays,
    /// dictionaries (inside arrays) as objects.
    mutating func value(_ value: Logger.Metadata.Value) {
        switch value {
        case .string(let string):
            self.string(string)
        case .stringConvertible(let convertible):
            switch convertible {
            case let bool as Bool:
                self.text += bool ? "true" : "false"
            case let integer as any BinaryInteger:
                self.text += "\(integer)"
            case let double as Double where double.isFinite:
                self.text += "\(double)"
            case let float as Float where float.isFinite:
                self.text += "\(float)"
            default:
                self.string(convertible.description)
            }
        case .array(let values):
            self.text += "["
            for (index, element) in values.enumerated() {
                if index > 0 { self.text += "," }
                self.value(element)
            }
            self.text += "]"
        case .dictionary(let dictionary):
            var object = JSONLine()
            for (key, element) in dictionary.sorted(by: { $0.key < $1.key }) {
                object.field(key) { $0.value(element) }
            }
            self.text += object.finish()
        }
    }

    func finish() -> String {
        self.text + "}"
    }
}
