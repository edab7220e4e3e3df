import Foundation

/// Conversion between `Date` and Postgres's ISO text forms of `timestamptz`, `timestamp` and `date`.
///
/// Connections set `DateStyle=ISO` and `TimeZone=UTC`, but the parser accepts any ISO offset
/// (`+00`, `+05:30`, `-03:00:00`, `Z`), so a session with another time zone still decodes correctly.
/// Values without an offset (`timestamp`, `date`) are read as UTC. Stateless, hence safe from any thread.
enum PostgresTimestamp {
    /// Parses `YYYY-MM-DD[( |T)HH:MM:SS[.ffffff]][(+|-)HH[:MM[:SS]]|Z]`; `nil` for anything else
    /// (including `infinity` and BC dates).
    static func parse(_ text: String) -> Date? {
        var scanner = Scanner(Array(text.utf8))
        guard let year = scanner.digits(min: 4, max: 6), scanner.take(UInt8(ascii: "-")),
              let month = scanner.digits(min: 2, max: 2), scanner.take(UInt8(ascii: "-")),
              let day = scanner.digits(min: 2, max: 2),
              (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var secondsOfDay = 0
        var fraction = 0.0
        var offset = 0
        if scanner.take(UInt8(ascii: " ")) || scanner.take(UInt8(ascii: "T")) {
            guard let hour = scanner.digits(min: 2, max: 2), scanner.take(UInt8(ascii: ":")),
                  let minute = scanner.digits(min: 2, max: 2), scanner.take(UInt8(ascii: ":")),
                  let second = scanner.digits(min: 2, max: 2),
                  hour <= 24, minute < 60, second <= 60
            else { return nil }
            secondsOfDay = hour * 3600 + minute * 60 + second
            if scanner.take(UInt8(ascii: ".")) {
                var scale = 0.1
                var any = false
                while let digit = scanner.digit() {
                    fraction += Double(digit) * scale
                    scale /= 10
                    any = true
                }
                guard any else { return nil }
            }
            if scanner.take(UInt8(ascii: "Z")) {
                offset = 0
            } else if let signByte = scanner.peek(), signByte == UInt8(ascii: "+") || signByte == UInt8(ascii: "-") {
                _ = scanner.next()
                guard let hours = scanner.digits(min: 2, max: 2) else { return nil }
                var magnitude = hours * 3600
                if scanner.take(UInt8(ascii: ":")) {
                    guard let minutes = scanner.digits(min: 2, max: 2) else { return nil }
                    magnitude += minutes * 60
                    if scanner.take(UInt8(ascii: ":")) {
                        guard let seconds = scanner.digits(min: 2, max: 2) else { return nil }
                        magnitude += seconds
                    }
                }
                offset = signByte == UInt8(ascii: "-") ? -magnitude : magnitude
            }
        }
        guard scanner.isAtEnd else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let whole = days * 86_400 + secondsOfDay - offset
        return Date(timeIntervalSince1970: Double(whole) + fraction)
    }

    /// Formats a date as `YYYY-MM-DD HH:MM:SS.ffffff+00:00` (UTC, microseconds — Postgres's precision).
    static func format(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let (seconds, micro) = floorDivide(micros, 1_000_000)
        let (days, secondsOfDay) = floorDivide(seconds, 86_400)
        let (year, month, day) = civilFromDays(Int(days))
        let hour = Int(secondsOfDay / 3600), minute = Int(secondsOfDay % 3600 / 60), second = Int(secondsOfDay % 60)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + " "
            + pad(hour, 2) + ":" + pad(minute, 2) + ":" + pad(second, 2) + "." + pad(Int(micro), 6) + "+00:00"
    }

    // Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's public-domain algorithms).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilFromDays(_ daysSinceEpoch: Int) -> (year: Int, month: Int, day: Int) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        var quotient = a / b
        var remainder = a % b
        if remainder < 0 {
            quotient -= 1
            remainder += b
        }
        return (quotient, remainder)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// A cursor over ASCII bytes.
    private struct Scanner {
        let bytes: [UInt8]
        var position = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var isAtEnd: Bool { position == bytes.count }

        func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func next() -> UInt8? {
            guard let byte = peek() else { return nil }
            position += 1
            return byte
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek() == byte else { return false }
            position += 1
            return true
        }

        mutating func digit() -> Int? {
            guard let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            position += 1
            return Int(byte - UInt8(ascii: "0"))
        }

        mutating func digits(min: Int, max: Int) -> Int? {
            var value = 0
            var count = 0
            while count < max, let digit = digit() {
                value = value * 10 + digit
                count += 1
            }
            return count >= min ? value : nil
        }
    }
}
