import RemoteWrite
import Testing

@Suite struct SendDecisionTests {
    static let minB = Duration.milliseconds(30)
    static let maxB = Duration.seconds(5)

    @Test(arguments: [
        (Optional(200), Duration.zero, SendDecision.delivered),
        (Optional(204), Duration.zero, SendDecision.delivered),
        (Optional(400), Duration.zero, SendDecision.drop),
        (Optional(404), Duration.zero, SendDecision.drop),
        (Optional(409), Duration.zero, SendDecision.drop),
        (Optional(500), Duration.zero, SendDecision.retry(backoff: .milliseconds(30))),
        (Optional(503), Duration.milliseconds(30), SendDecision.retry(backoff: .milliseconds(60))),
        (Optional(429), Duration.milliseconds(60), SendDecision.retry(backoff: .milliseconds(120))),
        (nil, Duration.seconds(4), SendDecision.retry(backoff: .seconds(5))),
        (nil, Duration.seconds(5), SendDecision.retry(backoff: .seconds(5))),
    ])
    func decides(status: Int?, previous: Duration, expected: SendDecision) {
        let got = SendDecision.decide(
            status: status, retryAfter: nil, previous: previous, minBackoff: Self.minB, maxBackoff: Self.maxB)
        #expect(got == expected)
    }

    @Test func retryAfterReplacesTheComputedBackoff() {
        let got = SendDecision.decide(
            status: 503, retryAfter: SendDecision.parseRetryAfter(" 7 "), previous: .zero, minBackoff: Self.minB,
            maxBackoff: Self.maxB)
        #expect(got == .retry(backoff: .seconds(7)))
        #expect(SendDecision.parseRetryAfter("soon") == nil)
        #expect(SendDecision.parseRetryAfter(nil) == nil)
    }
}
