#if canImport(Glibc)
import Glibc
#endif

/// An exclusive advisory lock on the state directory (`flock` on `<state>/.lock`). Store commands that
/// work on the state directory while the service is not running hold it, and so does the service
/// while it runs a store change, so that two writers never interleave.
public enum StateDirectoryLock {
    /// Runs `body` while holding the lock; waits for another holder.
    public static func withLock<T>(_ directory: String, _ body: () throws -> T) throws -> T {
        try Posix.makeDirectories(directory, mode: 0o750)
        let path = directory + "/.lock"
        let fd = try Posix.call("open", path: path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
        defer { close(fd) }
        try Posix.call("flock", path: path) { flock(fd, LOCK_EX) }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
