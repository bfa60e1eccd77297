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
}
