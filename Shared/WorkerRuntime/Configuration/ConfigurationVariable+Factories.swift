import Foundation

extension ConfigurationVariable where Value == String {
    /// A free-form string variable.
    ///
    /// - Parameters:
    ///   - name: Full name, starting with `RAG_`.
    ///   - default: The value when unset; `nil` makes it required.
    ///   - summary: One sentence for the documentation.
    ///   - expectation: What a valid value looks like; "a non-empty string" unless given.
    ///   - redaction: How to show the value in logs (use ``ConfigurationRedaction/secret`` for tokens and keys).
    public static func string(
        _ name: String,
        default defaultValue: String?,
        summary: String,
        expectation: String = "a non-empty string",
        redaction: ConfigurationRedaction = .none
    ) -> Self {
        Self(
            name: name,
            summary: summary,
            expectation: expectation,
            defaultValue: defaultValue,
            placeholder: "",
            redaction: redaction,
            parse: { raw throws(ConfigurationValueRejection) in raw }
        )
    }

    /// A URL whose scheme must be one of `schemes`, kept as the original text (clients such as libpq take a string).
    ///
    /// The value must parse as a URL (RFC 3986) and start with `<scheme>://`; the host may be empty, as in
    /// `postgresql:///db?host=/run/postgresql` (a Unix socket). Credentials are redacted in logs.
    public static func url(
        _ name: String,
        schemes: [String],
        default defaultValue: String?,
        summary: String
    ) -> Self {
        let expectation = "a URL starting with " + schemes.map { "\($0)://" }.joined(separator: " or ")
        return Self(
            name: name,
            summary: summary,
            expectation: expectation,
            defaultValue: defaultValue,
            placeholder: "",
            redaction: .urlCredentials,
            parse: { raw throws(ConfigurationValueRejection) in
                let lower = raw.lowercased()
                guard schemes.contains(where: { lower.hasPrefix("\($0.lowercased())://") }) else {
                    throw ConfigurationValueRejection("has an unsupported scheme")
                }
                guard !raw.contains(where: \.isWhitespace), URLComponents(string: raw) != nil else {
                    throw ConfigurationValueRejection("is not a valid URL")
                }
                return raw
            }
        )
    }
}

extension ConfigurationVariable where Value == Int {
    /// An integer variable that must lie in `range`.
    public static func integer(
        _ name: String,
        default defaultValue: Int?,
        range: ClosedRange<Int>,
        summary: String
    ) -> Self {
        Self.integer(
            name,
            default: defaultValue,
            range: range,
            summary: summary,
            expectation: "an integer in \(range.lowerBound)...\(range.upperBound)"
        )
    }

    /// A TCP port (0 lets the system pick a free port).
    public static func port(_ name: String, default defaultValue: Int?, summary: String) -> Self {
        Self.integer(
            name,
            default: defaultValue,
            range: 0...65535,
            summary: summary,
            expectation: "a TCP port in 0...65535 (0 picks a free port)"
        )
    }

    private static func integer(
        _ name: String,
        default defaultValue: Int?,
        range: ClosedRange<Int>,
        summary: String,
        expectation: String
    ) -> Self {
        Self(
            name: name,
            summary: summary,
            expectation: expectation,
            defaultValue: defaultValue,
            placeholder: range.lowerBound,
            parse: { raw throws(ConfigurationValueRejection) in
                guard let value = Int(raw) else {
                    throw ConfigurationValueRejection("is not an integer")
                }
                guard range.contains(value) else {
                    throw ConfigurationValueRejection("is out of range")
                }
                return value
            }
        )
    }
}

extension ConfigurationVariable where Value == Double {
    /// A decimal number that must lie in `range`.
    public static func double(_ name: String, default defaultValue: Double?, range: ClosedRange<Double>, summary: String) -> Self {
        Self(
            name: name,
            summary: summary,
            expectation: "a number in \(range.lowerBound)...\(range.upperBound)",
            defaultValue: defaultValue,
            placeholder: range.lowerBound,
            parse: { raw throws(ConfigurationValueRejection) in
                guard let value = Double(raw), value.isFinite else {
                    throw ConfigurationValueRejection("is not a number")
                }
                guard range.contains(value) else {
                    throw ConfigurationValueRejection("is out of range")
                }
                return value
            }
        )
    }
}

extension ConfigurationVariable where Value == Bool {
    /// A boolean: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, in any case.
    public static func bool(_ name: String, default defaultValue: Bool?, summary: String) -> Self {
        Self(
            name: name,
            summary: summary,
            expectation: "true or false",
            defaultValue: defaultValue,
            placeholder: false,
            parse: { raw throws(ConfigurationValueRejection) in
                switch raw.lowercased() {
                case "true", "1", "yes", "on": return true
                case "false", "0", "no", "off": return false
                default: throw ConfigurationValueRejection("is not a boolean")
                }
            }
        )
    }
}

extension ConfigurationVariable where Value == Duration {
    /// A duration written as a number with a unit — `250ms`, `30s`, `1.5m`, `2h` — or a bare number of seconds;
    /// it must lie in `range`.
    public static func duration(
        _ name: String,
        default defaultValue: Duration?,
        range: ClosedRange<Duration>,
        summary: String
    ) -> Self {
        Self(
            name: name,
            summary: summary,
            expectation:
                "a duration such as 500ms, 30s, 2m or 1h, in \(DurationText.format(range.lowerBound))...\(DurationText.format(range.upperBound))",
            defaultValue: defaultValue,
            defaultDescription: defaultValue.map(DurationText.format),
            placeholder: range.lowerBound,
            parse: { raw throws(ConfigurationValueRejection) in
                guard let value = DurationText.parse(raw) else {
                    throw ConfigurationValueRejection("is not a duration")
                }
                guard range.contains(value) else {
                    throw ConfigurationValueRejection("is out of range")
                }
                return value
            }
        )
    }
}

extension ConfigurationVariable where Value == [String] {
    /// A comma-separated list of `host:port` addresses, such as Kafka bootstrap servers
    /// (`broker-1:9092,broker-2:9092`; IPv6 hosts in brackets, `[::1]:9092`).
    public static func hostPortList(_ name: String, default defaultValue: [String]?, summary: String) -> Self {
        Self(
            name: name,
            summary: summary,
            expectation: "a comma-separated list of host:port",
            defaultValue: defaultValue,
            defaultDescription: defaultValue.map { $0.joined(separator: ",") },
            placeholder: [],
            parse: { raw throws(ConfigurationValueRejection) in
                let entries = raw.split(separator: ",", omittingEmptySubsequences: false).map {
                    String($0).trimmingWhitespace()
                }
                for entry in entries {
                    guard let colon = entry.lastIndex(of: ":"),
                        !entry[..<colon].isEmpty,
                        let port = Int(entry[entry.index(after: colon)...]),
                        (1...65535).contains(port),
                        !entry.contains(where: \.isWhitespace)
                    else {
                        throw ConfigurationValueRejection("has an entry that is not host:port (\"\(entry)\")")
                    }
                }
                return entries
            }
        )
    }
}

extension ConfigurationVariable {
    /// A value chosen by name from a fixed set of options (matched case-insensitively).
    ///
    /// - Parameters:
    ///   - options: Allowed names and the value each stands for, in the order they are documented.
    ///   - default: The name of the default option; `nil` makes the variable required.
    public static func oneOf(
        _ name: String,
        options: KeyValuePairs<String, Value>,
        default defaultName: String?,
        summary: String
    ) -> Self {
        let table = Array(options)
        let defaultValue = defaultName.flatMap { name in table.first { $0.key == name }?.value }
        assert(defaultName == nil || defaultValue != nil, "default \(defaultName ?? "") is not one of the options")
        return Self(
            name: name,
            summary: summary,
            expectation: "one of " + table.map(\.key).joined(separator: ", "),
            defaultValue: defaultValue,
            defaultDescription: defaultName,
            placeholder: table[0].value,
            parse: { raw throws(ConfigurationValueRejection) in
                let lower = raw.lowercased()
                guard let match = table.first(where: { $0.key.lowercased() == lower }) else {
                    throw ConfigurationValueRejection("is not an allowed value")
                }
                return match.value
            }
        )
    }
}
