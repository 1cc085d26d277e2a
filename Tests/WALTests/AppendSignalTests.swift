import OutpostModel
import Synchronization
import Testing
import WAL

/// Readers at the head wait for the next append instead of polling: an append wakes them, and so
/// does cancellation; neither waits for the timeout.
@Suite struct AppendSignalTests {
    @Test func anAppendWakesAReaderWaitingForOne() async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let wal = try openWAL(dir)
        let ref = wal.seriesRef(for: Labels([("__name__", "m")]))
        let generation = wal.appendGeneration
        let woke = Atomic<Bool>(false)
        let waiter = Task {
            await wal.waitForAppend(after: generation, timeout: .seconds(600))
            woke.store(true, ordering: .relaxed)
        }
        try wal.append([Sample(ref: ref, timestamp: 1, value: 1)])
        #expect(wal.appendGeneration != generation)
        let deadline = ContinuousClock.now + .seconds(20)
        while !woke.load(ordering: .relaxed) && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let didWake = woke.load(ordering: .relaxed)
        #expect(didWake)
        waiter.cancel()
        // A wait for a generation already passed returns at once.
        await wal.waitForAppend(after: generation, timeout: .seconds(600))
        wal.close()
    }

    @Test func cancellationEndsTheWait() async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let wal = try openWAL(dir)
        let done = Atomic<Bool>(false)
        let waiter = Task {
            await wal.waitForAppend(after: wal.appendGeneration, timeout: .seconds(600))
            done.store(true, ordering: .relaxed)
        }
        try await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        let deadline = ContinuousClock.now + .seconds(20)
        while !done.load(ordering: .relaxed) && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let finished = done.load(ordering: .relaxed)
        #expect(finished)
        wal.close()
    }
}
