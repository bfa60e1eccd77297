public import ServiceHost
import Synchronization

/// Keeps entries in memory: the test double.
public final class RecordingJournal: Journal {
    private let storage = Mutex<[JournalEntry]>([])

    public init() {}

    public func record(_ entry: JournalEntry) { storage.withLock { $0.append(entry) } }

    /// Everything recorded so far.
    public var entries: [JournalEntry] { storage.withLock { $0 } }
}
