import Testing

@testable import Transport

@Suite struct LoopTimerTests {
    @Test func sleepsAtLeastTheDurationAsked() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        try await LoopTimer.sleep(for: .milliseconds(30))
        #expect(clock.now - start >= .milliseconds(30))
        let deadline = clock.now + .milliseconds(20)
        try await LoopTimer.sleep(until: deadline)
        #expect(clock.now >= deadline)
    }

    @Test func aPastDeadlineReturnsAtOnce() async throws {
        try await LoopTimer.sleep(until: ContinuousClock.now - .seconds(5))
        try await LoopTimer.sleep(for: .zero)
    }

    /// A cancelled sleep ends with `CancellationError` long before its hour is up; the surrounding
    /// group gives up after 30 seconds so a broken timer fails the test instead of hanging it.
    @Test func cancellingEndsTheSleepWithCancellationError() async {
        let sleeper = Task { () -> String in
            do {
                try await LoopTimer.sleep(for: .seconds(3600))
                return "slept"
            } catch is CancellationError {
                return "cancelled"
            } catch {
                return "other error: \(error)"
            }
        }
        sleeper.cancel()
        let outcome = await withTaskGroup(of: String.self) { group in
            group.addTask { await sleeper.value }
            group.addTask {
                try? await Task.sleep(for: .seconds(30))
                return "still sleeping after 30 s"
            }
            let first = await group.next() ?? "none"
            group.cancelAll()
            return first
        }
        #expect(outcome == "cancelled")
    }
}
