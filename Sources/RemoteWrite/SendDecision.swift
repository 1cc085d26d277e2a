/// What to do with a batch after one send attempt: the remote endpoint's response handling,
/// kept free of I/O so every case is a table-driven test.
public enum SendDecision: Equatable, Sendable {
    /// Acknowledged: advance the cursor.
    case delivered
    /// Recoverable (5xx, 429, network): wait `backoff`, then send the same batch again.
    case retry(backoff: Duration)
    /// Not recoverable (other 4xx): count the samples as failed, advance the cursor.
    case drop

    /// Decides for an HTTP status (nil for a network error or timeout).
    ///
    /// `previous` is the last backoff used (zero on the first failure); backoff doubles from
    /// `minBackoff` up to `maxBackoff`. A `Retry-After` value, when the server sends one on a
    /// retryable status, replaces the computed backoff.
    public static func decide(
        status: Int?, retryAfter: Duration?, previous: Duration, minBackoff: Duration, maxBackoff: Duration
    ) -> SendDecision {
        if let status, (200..<300).contains(status) { return .delivered }
        if let status, status != 429, status < 500 { return .drop }
        var next = previous == .zero ? minBackoff : previous * 2
        if next > maxBackoff { next = maxBackoff }
        if let retryAfter, retryAfter > .zero { next = retryAfter }
        return .retry(backoff: next)
    }

    /// Parses a `Retry-After` header given in seconds (HTTP dates are treated as absent for now).
    public static func parseRetryAfter(_ value: String?) -> Duration? {
        guard let value, let seconds = Int(value.trimmingSpaces()), seconds >= 0 else { return nil }
        return .seconds(seconds)
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
