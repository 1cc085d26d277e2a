import NIOCore
import NIOPosix

/// Sleeps on a timer of NIO's shared event loops instead of Swift concurrency's default timers.
///
/// `Task.sleep` hands its timer to dispatch, whose timer thread wakes a dispatch worker to resume
/// the task; that worker then hands the task's I/O to an event loop. A loop's own timer fires inside
/// the `epoll_wait` the loop is already in and resumes the task on that loop (the executor runs on
/// these loops), so a scrape interval or a sender's deadline costs no thread wake-ups of its own.
public enum LoopTimer {
    /// Returns after `duration`, or throws `CancellationError` as soon as the task is cancelled.
    public static func sleep(for duration: Duration) async throws {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = max(0, seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000)
        let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? MultiThreadedEventLoopGroup.singleton.any()
        let scheduled = loop.scheduleTask(in: .nanoseconds(nanoseconds)) {}
        do {
            try await withTaskCancellationHandler {
                try await scheduled.futureResult.get()
            } onCancel: {
                scheduled.cancel()
            }
        } catch {
            throw CancellationError()
        }
    }

    /// Returns at `deadline`; see ``sleep(for:)``.
    public static func sleep(until deadline: ContinuousClock.Instant) async throws {
        try await sleep(for: deadline - ContinuousClock.now)
    }
}
