import Synchronization

/// A fan-out of "something changed" signals: every ``stream()`` gets every later ``signal()``, until
/// ``finish()`` ends them all (a stream asked for afterwards is finished already). Shared by the
/// providers, the engine and the plugin supervisors; safe from any isolation.
public final class ChangeSignal: Sendable {
    /// `nil` once finished.
    private let continuations = Mutex<[AsyncStream<Void>.Continuation]?>([])

    public init() {}

    /// A new subscription; at most one undelivered signal is buffered (signals carry no data).
    public func stream() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let open = continuations.withLock { list -> Bool in
            list?.append(continuation)
            return list != nil
        }
        if !open { continuation.finish() }
        return stream
    }

    public func signal() {
        let current = continuations.withLock { $0 ?? [] }
        for continuation in current { continuation.yield() }
    }

    public func finish() {
        let current = continuations.withLock { list in
            defer { list = nil }
            return list ?? []
        }
        for continuation in current { continuation.finish() }
    }
}
