#if canImport(Glibc)
import Glibc
#endif

/// An exclusive advisory lock (`flock`) on a lock file, held while a closure runs.
///
/// `flock` locks belong to the open file, so code that holds the lock must not take it again (it would
/// wait for itself). Blocks until the lock is free: async callers run it through ``BlockingPool``,
/// never on a serial queue that other work shares.
public enum FileLock {
    /// Runs `body` holding the exclusive lock on `path` (created with mode 0600 when missing).
    /// - Throws: ``SystemError`` (`open`, `flock`) naming `path`, or what `body` throws.
    public static func withExclusiveLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let fd = try SystemCall.check("open", path: path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
        defer { close(fd) }
        try SystemCall.check("flock", path: path) { flock(fd, LOCK_EX) }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
