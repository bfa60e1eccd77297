public import PolicyModel
public import Providers
import Synchronization

/// A policy provider that reports nothing and signals a change when the test says so; it counts the
/// ``changes()`` streams still open, so a test sees when whoever consumed one (the registry's forwarding)
/// has let go of it.
public final class SignallingProvider: PolicyProvider {
    public let name: String
    public let kind = SourceKind.plugin
    private let streams = Mutex<[Int: AsyncStream<Void>.Continuation]>([:])
    private let counter = Atomic<Int>(0)

    public init(name: String) { self.name = name }

    public func currentPolicy() async -> ProviderReport { .notConfigured(reason: nil) }

    public func changes() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = counter.add(1, ordering: .relaxed).newValue
        streams.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in _ = self?.streams.withLock { $0.removeValue(forKey: id) } }
        return stream
    }

    /// Yields on every open stream.
    public func signal() {
        for continuation in streams.withLock({ Array($0.values) }) { continuation.yield() }
    }

    /// How many ``changes()`` streams are still open: consumed by someone, or not yet given up.
    public var openStreams: Int { streams.withLock { $0.count } }
}
