import CCurl
public import Foundation

extension HTTPHeaders {
    /// How long the server asked the caller to wait, from the `Retry-After` header (RFC 9110 §10.2.3).
    ///
    /// The header holds either a number of seconds (`120`) or an HTTP date
    /// (`Wed, 21 Oct 2015 07:28:00 GMT`, also the obsolete RFC 850 and asctime forms). A date in the
    /// past yields `.zero`. Returns `nil` when the header is absent or unparseable — the caller then
    /// falls back to its own backoff. Pure function of the headers and `now`; safe from any thread.
    public func retryAfter(now: Date = Date()) -> Duration? {
        guard let raw = self["Retry-After"] else { return nil }
        return Self.parseRetryAfter(raw, now: now)
    }

    /// Parses one `Retry-After` value; see ``retryAfter(now:)``.
    public static func parseRetryAfter(_ value: String, now: Date = Date()) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        if trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            // delay-seconds = 1*DIGIT; absurdly long values saturate rather than fail.
            return .seconds(Int64(trimmed) ?? Int64.max)
        }
        // An HTTP date. Only accept strings that name a GMT date, as the RFC requires; curl_getdate
        // parses all three historic formats but would also accept many non-HTTP forms.
        guard trimmed.hasSuffix("GMT") || Self.isAsctime(trimmed) else { return nil }
        let epochSeconds = curl_getdate(trimmed, nil)
        guard epochSeconds != -1 else { return nil }
        let delay = Double(epochSeconds) - now.timeIntervalSince1970
        return delay <= 0 ? .zero : .milliseconds(Int64((delay * 1000).rounded()))
    }

    /// asctime: `Sun Nov  6 08:49:37 1994` (no zone, implicitly GMT).
    private static func isAsctime(_ value: String) -> Bool {
        let parts = value.split(separator: " ")
        return parts.count == 5 && parts[3].split(separator: ":").count == 3 && Int(parts[4]) != nil
    }
}
