import Testing

@testable import RemoteWrite

@Suite struct SendDecisionTests {
    static let minB = Duration.milliseconds(30)
    static let maxB = Duration.seconds(5)

    @Test(arguments: [
        (Optional(200), Duration.zero, SendDecision.delivered),
        (Optional(204), Duration.zero, SendDecision.delivered),
        (Optional(400), Duration.zero, SendDecision.drop),
        (Optional(404), Duration.zero, SendDecision.drop),
        (Optional(409), Duration.zero, SendDecision.drop),
        (Optional(413), Duration.zero, SendDecision.split),
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

    @Test func a429IsDroppedWhenNotRetried() {
        let got = SendDecision.decide(
            status: 429, retryAfter: .seconds(3), previous: .zero, minBackoff: Self.minB, maxBackoff: Self.maxB,
            retryOn429: false)
        #expect(got == .drop)
    }

    @Test func retryAfterReplacesTheComputedBackoff() {
        let got = SendDecision.decide(
            status: 503, retryAfter: SendDecision.parseRetryAfter(" 7 ", nowSeconds: 0), previous: .zero,
            minBackoff: Self.minB, maxBackoff: Self.maxB)
        #expect(got == .retry(backoff: .seconds(7)))
        // The wait after a Retry-After doubles from it.
        let after = SendDecision.decide(
            status: 503, retryAfter: nil, previous: .seconds(2), minBackoff: Self.minB, maxBackoff: Self.maxB)
        #expect(after == .retry(backoff: .seconds(4)))
        #expect(SendDecision.parseRetryAfter("soon", nowSeconds: 0) == nil)
        #expect(SendDecision.parseRetryAfter("-3", nowSeconds: 0) == nil)
        #expect(SendDecision.parseRetryAfter(nil, nowSeconds: 0) == nil)
    }

    @Test func retryAfterAsAnHTTPDate() {
        // 1994-11-06T08:49:37Z is 784111777 seconds after the epoch.
        #expect(SendDecision.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(SendDecision.parseHTTPDate("Thu, 01 Jan 1970 00:00:00 GMT") == 0)
        #expect(SendDecision.parseHTTPDate("Tue, 29 Feb 2028 23:59:59 GMT") == 1_835_481_599)
        #expect(SendDecision.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", nowSeconds: 784_111_767) == .seconds(10))
        // A date already past means "no hint": the computed backoff applies.
        #expect(SendDecision.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", nowSeconds: 784_111_800) == nil)
        #expect(SendDecision.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 UTC") == nil)
        #expect(SendDecision.parseHTTPDate("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(SendDecision.parseHTTPDate("Sun, 06 Foo 1994 08:49:37 GMT") == nil)
    }
}

@Suite struct ShardTunerTests {
    /// 10 s ticks: `rate` samples/s in and out, each sample taking `perSample` seconds to send.
    static func run(
        _ tuner: inout ShardTuner, ticks: Int, inRate: Double, outRate: Double, perSample: Double, delay: Double,
        current: inout Int
    ) {
        for _ in 0..<ticks {
            current = tuner.tick(
                samplesIn: Int64(inRate * 10), samplesOut: Int64(outRate * 10), samplesDropped: 0,
                sendSeconds: outRate * 10 * perSample, delaySeconds: delay, current: current)
        }
    }

    @Test func growsToWhatTheIncomingRateNeeds() {
        // 100k samples/s, 25 µs of send time per sample: 2.5 shards' worth → 3.
        var tuner = ShardTuner(minShards: 1, maxShards: 50)
        var shards = 1
        Self.run(&tuner, ticks: 1, inRate: 100_000, outRate: 100_000, perSample: 25e-6, delay: 0, current: &shards)
        #expect(shards == 3)
        #expect(abs(tuner.desired - 2.5) < 1e-9)
    }

    @Test func aBacklogAddsFivePercentPerSecond() {
        // 1,000/s in, 60 s behind: 1,000 + 0.05 × 60,000 = 4,000 samples/s to send, 1 ms each.
        var tuner = ShardTuner(minShards: 1, maxShards: 50)
        var shards = 1
        Self.run(&tuner, ticks: 1, inRate: 1_000, outRate: 1_000, perSample: 1e-3, delay: 60, current: &shards)
        #expect(abs(tuner.desired - 4) < 1e-9)
        #expect(shards == 4)
    }

    @Test func smallChangesAreIgnoredAndBoundsHold() {
        var tuner = ShardTuner(minShards: 2, maxShards: 5)
        var shards = 4
        // Desired 4.6 → 5 is within 30% of 4: no change.
        Self.run(&tuner, ticks: 1, inRate: 1_000, outRate: 1_000, perSample: 4.6e-3, delay: 0, current: &shards)
        #expect(shards == 4)
        // Desired 40: clamped to max_shards.
        var t2 = ShardTuner(minShards: 2, maxShards: 5)
        shards = 4
        Self.run(&t2, ticks: 1, inRate: 1_000, outRate: 1_000, perSample: 40e-3, delay: 0, current: &shards)
        #expect(shards == 5)
        // Desired 0.1: clamped to min_shards.
        var t3 = ShardTuner(minShards: 2, maxShards: 5)
        shards = 4
        Self.run(&t3, ticks: 1, inRate: 1_000, outRate: 1_000, perSample: 0.1e-3, delay: 0, current: &shards)
        #expect(shards == 2)
    }

    @Test func noDownshardingWhileFarBehind() {
        var tuner = ShardTuner(minShards: 1, maxShards: 50)
        var shards = 10
        // Sending is fast (desired small) but the queue is 30 s behind: keep 10.
        Self.run(&tuner, ticks: 1, inRate: 10, outRate: 10, perSample: 1e-3, delay: 30, current: &shards)
        #expect(shards == 10)
    }

    @Test func nothingSentMeansNoChange() {
        var tuner = ShardTuner(minShards: 1, maxShards: 50)
        var shards = 7
        Self.run(&tuner, ticks: 3, inRate: 50_000, outRate: 0, perSample: 0, delay: 100, current: &shards)
        #expect(shards == 7)
    }

    @Test func ratesAreSmoothed() {
        var rate = EWMARate(alpha: 0.2, intervalSeconds: 10)
        rate.tick(0)
        #expect(rate.rate == 0)
        rate.tick(1_000)  // the first non-empty tick sets the rate
        #expect(rate.rate == 100)
        rate.tick(2_000)  // 100 + 0.2 × (200 − 100)
        #expect(abs(rate.rate - 120) < 1e-9)
    }
}
