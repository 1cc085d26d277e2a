/// What to do with a batch after one send attempt: the remote endpoint's response handling,
/// kept free of I/O so every case is a table-driven test.
public enum SendDecision: Equatable, Sendable {
    /// Acknowledged: advance the cursor.
    case delivered
    /// Recoverable (5xx, 429 when retried, network): wait `backoff`, then send the same batch again.
    case retry(backoff: Duration)
    /// Not recoverable (other 4xx): count the samples as failed, advance the cursor.
    case drop
    /// 413: the receiver refuses a request this large; send the batch again in halves.
    case split

    /// Decides for an HTTP status (nil for a network error or timeout).
    ///
    /// `previous` is the last backoff slept (zero before the first retry). As in Prometheus, the
    /// first retry waits `minBackoff` and each further one twice the previous wait, capped at
    /// `maxBackoff`; a `Retry-After` the server sends on a retryable status replaces the computed
    /// wait (and doubles from there). A 429 is retried only with `retryOn429`; otherwise it is
    /// dropped like any 4xx.
    public static func decide(
        status: Int?, retryAfter: Duration?, previous: Duration, minBackoff: Duration, maxBackoff: Duration,
        retryOn429: Bool = true
    ) -> SendDecision {
        if let status, (200..<300).contains(status) { return .delivered }
        if status == 413 { return .split }
        if let status, status < 500, status != 429 || !retryOn429 { return .drop }
        var next = previous == .zero ? minBackoff : previous * 2
        if next > maxBackoff { next = maxBackoff }
        if let retryAfter, retryAfter > .zero { next = retryAfter }
        return .retry(backoff: next)
    }

    /// Parses a `Retry-After` header: a number of seconds, or an HTTP date (`Sun, 06 Nov 1994
    /// 08:49:37 GMT`) read against `nowSeconds`. A date in the past or an unreadable value is nil:
    /// the computed backoff applies, as in Prometheus.
    public static func parseRetryAfter(_ value: String?, nowSeconds: Int64) -> Duration? {
        guard let value else { return nil }
        let text = value.trimmingSpaces()
        if let seconds = Int(text) { return seconds >= 0 ? .seconds(seconds) : nil }
        guard let at = parseHTTPDate(text), at > nowSeconds else { return nil }
        return .seconds(at - nowSeconds)
    }

    /// Seconds since the epoch for an IMF-fixdate (RFC 9110 §5.6.7), the form servers must send.
    static func parseHTTPDate(_ text: Substring) -> Int64? {
        // "Sun, 06 Nov 1994 08:49:37 GMT"
        let b = Array(text.utf8)
        guard b.count == 29, b[3] == UInt8(ascii: ","), b[4] == 0x20, b[7] == 0x20, b[11] == 0x20, b[16] == 0x20,
            b[19] == UInt8(ascii: ":"), b[22] == UInt8(ascii: ":"), b[25] == 0x20,
            String(decoding: b[26..<29], as: UTF8.self) == "GMT"
        else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var n: Int64 = 0
            for i in range {
                guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                n = n * 10 + Int64(b[i] - 0x30)
            }
            return n
        }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let day = number(5..<7), let year = number(12..<16), let hour = number(17..<19),
            let minute = number(20..<22), let second = number(23..<25),
            let monthIndex = months.firstIndex(of: String(decoding: b[8..<11], as: UTF8.self)),
            (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm).
        let m = Int64(monthIndex + 1)
        let y = m <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return days * 86_400 + hour * 3_600 + minute * 60 + second
    }
}

extension String {
    fileprivate func trimmingSpaces() -> Substring {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
