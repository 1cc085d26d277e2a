/// An exponentially weighted rate of events per second, updated once per tick (Prometheus' `ewmaRate`).
struct EWMARate {
    let alpha: Double
    let interval: Double
    private(set) var rate: Double = 0
    private var started = false

    init(alpha: Double = 0.2, intervalSeconds: Double = ShardTuner.tickSeconds) {
        self.alpha = alpha
        self.interval = intervalSeconds
    }

    /// Folds in the events counted since the last tick.
    mutating func tick(_ events: Double) {
        let instant = events / interval
        if started {
            rate += alpha * (instant - rate)
        } else if events > 0 {
            started = true
            rate = instant
        }
    }
}

/// How many shards an endpoint needs, computed every ``tickSeconds`` exactly as Prometheus'
/// queue manager does: the time one sample takes to send (average send duration over samples
/// sent) times the rate samples come in, plus 5% of the backlog per second; changes within 30%
/// of the current count are ignored, no downsharding while more than 10 s behind, and the result
/// is clamped to `min_shards`…`max_shards`.
struct ShardTuner {
    static let tickSeconds: Double = 10
    static let tolerance = 0.3

    private var dataIn = EWMARate()
    private var dataOut = EWMARate()
    private var dataDropped = EWMARate()
    private var dataOutDuration = EWMARate()
    let minShards: Int
    let maxShards: Int
    /// The last computed wish, before rounding and clamping (`..._shards_desired`).
    private(set) var desired: Double = 0

    init(minShards: Int, maxShards: Int) {
        self.minShards = minShards
        self.maxShards = maxShards
    }

    /// One tick. `samplesIn` were read from the WAL, `samplesOut` delivered, `samplesDropped`
    /// dropped, and the sends took `sendSeconds` in all (summed over shards) since the last tick.
    /// `delaySeconds` is how far the newest sent sample trails the newest appended one.
    /// Returns the shard count to use from now on.
    mutating func tick(
        samplesIn: Int64, samplesOut: Int64, samplesDropped: Int64, sendSeconds: Double, delaySeconds: Double,
        current: Int
    ) -> Int {
        dataIn.tick(Double(samplesIn))
        dataOut.tick(Double(samplesOut))
        dataDropped.tick(Double(samplesDropped))
        dataOutDuration.tick(sendSeconds)
        let inRate = dataIn.rate
        let outRate = dataOut.rate
        guard outRate > 0 else { return current }
        let keptRatio = outRate / (dataDropped.rate + outRate)
        let pending = delaySeconds * inRate * keptRatio
        let timePerSample = dataOutDuration.rate / outRate
        desired = timePerSample * (inRate * keptRatio + 0.05 * pending)
        let lower = Double(current) * (1 - Self.tolerance)
        let upper = Double(current) * (1 + Self.tolerance)
        let rounded = desired.rounded(.up)
        if lower <= rounded && rounded <= upper { return current }
        var next = Int(min(rounded, Double(Int32.max)))
        if next < current && delaySeconds > 10 { return current }
        next = max(minShards, min(maxShards, next))
        return next
    }
}
