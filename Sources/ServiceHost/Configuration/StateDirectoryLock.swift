import Providers

/// The exclusive advisory lock on the state directory: the same lock as Providers'
/// `StateDirectory.withLock` (`flock` on `<state>/.store.lock`). Store commands that work on the state
/// directory while the service is not running hold it, and so does the service while it writes, so
/// that two writers never interleave.
public enum StateDirectoryLock {
    /// Runs `body` while holding the lock (creating the directory if needed); waits for another holder.
    public static func withLock<T>(_ directory: String, _ body: () throws -> T) throws -> T {
        try StateDirectory(path: directory).withLock { () throws -> T in try body() }
    }
}
