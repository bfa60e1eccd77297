import Synchronization

/// A fan-out of "something changed" signals: every ``stream()`` gets every later ``signal()``.
/// Shared by the providers and the engine; safe from any isolation.
final class ChangeSignal: Sendable {
    private let continuations = Mutex<[AsyncStream<Void>.Continuation]>([])

    init() {}

    /// A new subscription; at most one undelivered signal is buffered (signals carry no data).
    func stream() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        continuations.withLock { $0.append(continuation) }
        return stream
    }

    func signal() {
        let current = continuations.withLock { $0 }
        for continuation in current { continuation.yield() }
    }

    func finish() {
        let current = continuations.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for continuation in current { continuation.finish() }
    }
}
