#if canImport(Glibc)
import Glibc
#endif

/// The system calls behind ``PolicyFile``, each failure turned into a one-line ``PolicyFormatError``.
enum FileIO {
    /// Reads a whole file (or standard input for `-`), refusing directories and oversized input.
    static func readAll(path: String, displayName: String, limit: Int) throws(PolicyFormatError) -> [UInt8] {
        let fd = path == "-" ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(displayName, "cannot open", errno) }
        defer { if fd != STDIN_FILENO { close(fd) } }

        var status = stat()
        guard fstat(fd, &status) == 0 else { throw failure(displayName, "cannot inspect", errno) }
        if status.st_mode & S_IFMT == S_IFDIR {
            throw PolicyFormatError(file: displayName, message: "is a directory, not a policy file")
        }

        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(displayName, "cannot read", errno)
            }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
            if bytes.count > limit {
                throw PolicyFormatError(
                    file: displayName,
                    message: "is larger than \(limit >> 20) MiB; not a policy file"
                )
            }
        }
    }

    /// Replaces `path` by writing a temporary file beside it and renaming it over the target.
    static func replace(path: String, with bytes: [UInt8]) throws(PolicyFormatError) {
        var status = stat()
        if stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR {
            throw PolicyFormatError(file: path, message: "is a directory; give a file name")
        }
        let temporary = path + ".tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure(path, "cannot create", errno) }
        var failed: PolicyFormatError?
        do { try writeAll(fd, bytes, displayName: path) } catch { failed = error }
        if close(fd) != 0, failed == nil { failed = failure(path, "cannot write", errno) }
        if let failed {
            unlink(temporary)
            throw failed
        }
        if rename(temporary, path) != 0 {
            let code = errno
            unlink(temporary)
            throw failure(path, "cannot replace", code)
        }
    }

    static func writeStandardOutput(_ bytes: [UInt8], displayName: String) throws(PolicyFormatError) {
        try writeAll(STDOUT_FILENO, bytes, displayName: displayName)
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], displayName: String) throws(PolicyFormatError) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                throw failure(displayName, "cannot write", errno)
            }
            written += result
        }
    }

    /// `cannot open: no such file or directory`.
    private static func failure(_ file: String, _ what: String, _ code: Int32) -> PolicyFormatError {
        PolicyFormatError(file: file, message: "\(what): \(String(cString: strerror(code)).lowercased())")
    }
}
