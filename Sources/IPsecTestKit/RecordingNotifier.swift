public import ServiceHost
import Synchronization

/// Records notifications in memory: the test double.
public final class RecordingNotifier: ServiceNotifier {
    private let storage = Mutex<[String]>([])
    public let watchdogInterval: Duration?

    public init(watchdogInterval: Duration? = nil) { self.watchdogInterval = watchdogInterval }

    public func notify(_ fields: [String]) { storage.withLock { $0.append(fields.joined(separator: "\n")) } }

    /// Each notification, its lines joined by newlines.
    public var messages: [String] { storage.withLock { $0 } }
}
