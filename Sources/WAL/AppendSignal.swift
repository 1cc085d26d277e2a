import Synchronization

/// Wakes WAL readers when new records are written, so a reader at the head waits for data instead
/// of polling on a timer (a timer caps how fast a reader can follow the head).
final class AppendSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    /// Bumped by every append.
    var generation: UInt64 { state.withLock { $0.generation } }

    /// Records an append and wakes everyone waiting for one.
    func signal() {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.generation &+= 1
            guard !s.waiters.isEmpty else { return [] }
            let all = Array(s.waiters.values)
            s.waiters.removeAll(keepingCapacity: true)
            return all
        }
        for c in woken { c.resume() }
    }

    /// Returns once the generation differs from `seen`, or when the task is cancelled.
    func wait(after seen: UInt64) async {
        let id = state.withLock { s -> UInt64 in
            s.nextWaiter &+= 1
            return s.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.generation != seen || Task.isCancelled { return true }
                    s.waiters[id] = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let c = state.withLock { $0.waiters.removeValue(forKey: id) }
            c?.resume()
        }
    }
}
