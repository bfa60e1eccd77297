#if canImport(Glibc)
import Glibc
#endif

/// Crash-safe file replacement: write a temporary file beside the target, fsync it, rename it over the
/// target, fsync the directory. A crash at any point leaves either the old or the new content.
public enum DurableFile {
    /// An error from one of the system calls, with the path and errno.
    public struct WriteError: Error, Hashable, Sendable, CustomStringConvertible {
        public var path: String
        public var operation: String
        public var errno: Int32

        public var description: String {
            "\(path): \(operation) failed: \(String(cString: strerror(errno)))"
        }
    }

    /// Atomically and durably replaces `path` with `bytes` (mode `permissions`).
    public static func write(_ bytes: [UInt8], to path: String, permissions: UInt32 = 0o640) throws(WriteError) {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        removeStaleTemporaries(of: path)
        // Unique per call, not only per process: two tasks of one process may replace the same file at
        // once, and each must rename its own complete temporary file.
        let temporary = path + ".tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(permissions))
        guard fd >= 0 else { throw WriteError(path: temporary, operation: "open", errno: Glibc.errno) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
            }
            if result < 0 {
                if Glibc.errno == EINTR { continue }
                let code = Glibc.errno
                close(fd)
                unlink(temporary)
                throw WriteError(path: temporary, operation: "write", errno: code)
            }
            written += result
        }
        if fsync(fd) != 0 {
            let code = Glibc.errno
            close(fd)
            unlink(temporary)
            throw WriteError(path: temporary, operation: "fsync", errno: code)
        }
        close(fd)
        if rename(temporary, path) != 0 {
            let code = Glibc.errno
            unlink(temporary)
            throw WriteError(path: path, operation: "rename", errno: code)
        }
        let directoryFD = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { throw WriteError(path: directory, operation: "open", errno: Glibc.errno) }
        defer { close(directoryFD) }
        if fsync(directoryFD) != 0 { throw WriteError(path: directory, operation: "fsync", errno: Glibc.errno) }
    }

    /// Removes the temporaries of `path` that writers killed mid-write left behind: only names of the
    /// exact form `<path>.tmp-<pid>-<random>` beside `path`, and only when process `<pid>` no longer
    /// exists (`kill(pid, 0)` fails with `ESRCH`), so no write in progress — of this process or of
    /// another — loses its file. A dead writer can never rename its temporary, so removing it races
    /// with nothing. Best effort: errors are ignored.
    public static func removeStaleTemporaries(of path: String) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let prefix = (slash.map { String(path[path.index(after: $0)...]) } ?? path) + ".tmp-"
        guard let stream = opendir(directory.isEmpty ? "/" : directory) else { return }
        defer { closedir(stream) }
        var stale: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = stalePID(name, prefix: prefix) else { continue }
            if kill(pid, 0) != 0 && Glibc.errno == ESRCH { stale.append(name) }
        }
        for name in stale { unlink((directory.isEmpty ? "" : directory) + "/" + name) }
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
