public import PolicyModel
public import Providers
import Synchronization

/// A policy provider that reports what the test sets (nothing at first) and signals a change when the
/// test says so, separately, as a real provider updates its state and then signals; it counts the
/// ``changes()`` streams still open, so a test sees when whoever consumed one (the registry's forwarding)
/// has let go of it.
public final class SignallingProvider: PolicyProvider {
    public let name: String
    public let kind = SourceKind.plugin
    private let streams = Mutex<[Int: AsyncStream<Void>.Continuation]>([:])
    private let counter = Atomic<Int>(0)
    private let report = Mutex<ProviderReport>(.notConfigured(reason: nil))

    public init(name: String) { self.name = name }

    public func currentPolicy() async -> ProviderReport { report.withLock { $0 } }

    /// What ``currentPolicy()`` returns from now on; signals nothing (``signal()`` does).
    public func set(_ new: ProviderReport) { report.withLock { $0 = new } }

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
