/// Parses and formats durations the way operators write them in environment variables: `500ms`, `30s`,
/// `1.5m`, `2h`, or a bare number of seconds.
enum DurationText {
    static func parse(_ text: String) -> Duration? {
        let lower = text.lowercased()
        let unitStart = lower.firstIndex(where: { !($0.isASCII && ($0.isNumber || $0 == ".")) }) ?? lower.endIndex
        guard let number = Double(lower[..<unitStart]), number.isFinite, number >= 0 else {
            return nil
        }
        let scale: Double
        switch lower[unitStart...] {
        case "ms": scale = 0.001
        case "", "s": scale = 1
        case "m": scale = 60
        case "h": scale = 3600
        default: return nil
        }
        let seconds = number * scale
        guard seconds <= Double(Int64.max) / 1000 else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 {
            if seconds != 0 && seconds % 3600 == 0 { return "\(seconds / 3600)h" }
            if seconds != 0 && seconds % 60 == 0 { return "\(seconds / 60)m" }
            return "\(seconds)s"
        }
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return "\(milliseconds)ms"
    }
}
