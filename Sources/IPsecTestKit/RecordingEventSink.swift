public import Providers
import Synchronization

/// Keeps the engine's events in memory, for a test to read.
public final class RecordingEventSink: PolicyEventSink {
    private let storage = Mutex<[PolicyEvent]>([])

    public init() {}

    public func record(_ event: PolicyEvent) { storage.withLock { $0.append(event) } }

    /// Every event so far, oldest first.
    public var events: [PolicyEvent] { storage.withLock { $0 } }
}
