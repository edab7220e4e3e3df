import Foundation
import ModelClients
import Testing

@Suite("HTTPHeaders and Retry-After")
struct HTTPHeadersRetryAfterTests {
    /// 2015-10-21 07:28:00 UTC
    private let date = Date(timeIntervalSince1970: 1_445_412_480)

    @Test func lookupIgnoresCaseAndKeepsOrder() {
        var headers: HTTPHeaders = ["Content-Type": "application/json", "set-cookie": "a=1"]
        headers.add(name: "Set-Cookie", value: "b=2")
        #expect(headers["content-type"] == "application/json")
        #expect(headers.values(for: "SET-COOKIE") == ["a=1", "b=2"])
        headers["Set-Cookie"] = nil
        #expect(headers.count == 1)
    }

    @Test func secondsForm() {
        #expect(HTTPHeaders.parseRetryAfter("120") == .seconds(120))
        #expect(HTTPHeaders.parseRetryAfter(" 0 ") == .zero)
        let headers: HTTPHeaders = ["retry-after": "7"]
        #expect(headers.retryAfter() == .seconds(7))
    }

    @Test func httpDateForms() {
        let now = date.addingTimeInterval(-30)
        #expect(HTTPHeaders.parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now: now) == .seconds(30))
        #expect(HTTPHeaders.parseRetryAfter("Wednesday, 21-Oct-15 07:28:00 GMT", now: now) == .seconds(30))
        #expect(HTTPHeaders.parseRetryAfter("Wed Oct 21 07:28:00 2015", now: now) == .seconds(30))
    }

    @Test func pastDateIsZeroAndGarbageIsNil() {
        #expect(HTTPHeaders.parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now: date.addingTimeInterval(60)) == .zero)
        #expect(HTTPHeaders.parseRetryAfter("soon") == nil)
        #expect(HTTPHeaders.parseRetryAfter("-5") == nil)
        #expect(HTTPHeaders.parseRetryAfter("1.5") == nil)
        #expect(HTTPHeaders.parseRetryAfter("") == nil)
        #expect(HTTPHeaders().retryAfter() == nil)
    }
}
