#if canImport(Glibc)
import Glibc
#endif

/// Crash-safe file replacement, the one way the project writes a file it must not lose: write a
/// temporary file beside the target, fsync it, rename it over the target, fsync the directory. A crash
/// at any point leaves either the old or the new content, never a mix or an empty file.
public enum DurableFile {
    /// Atomically and durably replaces `path` with `bytes` (mode `permissions`, less the umask).
    /// - Throws: ``SystemError`` naming the step (`open`, `write`, `fsync`, `rename`) and its file; the
    ///   target is then unchanged and no temporary file is left.
    public static func write(_ bytes: [UInt8], to path: String, permissions: UInt32 = 0o640) throws(SystemError) {
        let directory = FileSystem.directory(of: path)
        removeStaleTemporaries(of: path)
        // Unique per call, not only per process: two tasks of one process may replace the same file at
        // once, and each must rename its own complete temporary file.
        let temporary = path + ".tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = try SystemCall.check("open", path: temporary) {
            open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(permissions))
        }
        do {
            try FileSystem.writeAll(bytes, to: fd, name: temporary)
            try SystemCall.check("fsync", path: temporary) { fsync(fd) }
            close(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        if Glibc.rename(temporary, path) != 0 {
            let code = Errno.current
            unlink(temporary)
            throw SystemError("rename", path: path, errno: code)
        }
        let directoryFD = try SystemCall.check("open", path: directory) {
            open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        }
        defer { close(directoryFD) }
        try SystemCall.check("fsync", path: directory) { fsync(directoryFD) }
    }

    /// Removes the temporaries of `path` that writers killed mid-write left behind: only names of the
    /// exact form `<path>.tmp-<pid>-<random>` beside `path`, and only when process `<pid>` no longer
    /// exists (`kill(pid, 0)` fails with `ESRCH`), so no write in progress — of this process or of
    /// another — loses its file. A dead writer can never rename its temporary, so removing it races
    /// with nothing. Best effort: errors are ignored.
    public static func removeStaleTemporaries(of path: String) {
        let directory = FileSystem.directory(of: path)
        let base = path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
        guard let names = try? FileSystem.entries(of: directory) else { return }
        for name in names {
            guard let pid = stalePID(name, prefix: base + ".tmp-") else { continue }
            if kill(pid, 0) != 0 && Errno.current == .noSuchProcess {
                unlink((directory == "/" ? "" : directory) + "/" + name)
            }
        }
    }

    /// The writer's PID when `name` is `<prefix><pid>-<random>` (both decimal), else `nil`.
    static func stalePID(_ name: String, prefix: String) -> pid_t? {
        guard name.hasPrefix(prefix) else { return nil }
        let parts = name.dropFirst(prefix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }),
            UInt64(parts[1]) != nil, let pid = pid_t(parts[0]), pid > 0, pid != getpid()
        else { return nil }
        return pid
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
