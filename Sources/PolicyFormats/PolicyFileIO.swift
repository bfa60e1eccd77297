import IPsecSystem

#if canImport(Glibc)
import Glibc
#endif

/// ``PolicyFile``'s reads and writes through the system layer, each failure turned into a one-line
/// ``PolicyFormatError``.
enum PolicyFileIO {
    /// The whole file (or standard input for `-`), refusing directories and more than `limit` bytes.
    static func read(path: String, displayName: String, limit: Int) throws(PolicyFormatError) -> [UInt8] {
        do {
            if path == "-" { return try FileSystem.read(descriptor: STDIN_FILENO, name: displayName, limit: limit) }
            return try FileSystem.read(path, limit: limit)
        } catch {
            switch error.errno {
            case .isDirectory: throw PolicyFormatError(file: displayName, message: "is a directory, not a policy file")
            case .fileTooLarge:
                throw PolicyFormatError(
                    file: displayName,
                    message: "is larger than \(limit >> 20) MiB; not a policy file"
                )
            default: throw failure(displayName, error)
            }
        }
    }

    /// Replaces `path` durably (a temporary file beside it, fsync, rename, fsync of the directory), so
    /// that an exported file is never half written, not even after a crash.
    static func replace(path: String, with bytes: [UInt8]) throws(PolicyFormatError) {
        if FileSystem.isDirectory(path) {
            throw PolicyFormatError(file: path, message: "is a directory; give a file name")
        }
        do {
            try DurableFile.write(bytes, to: path, permissions: 0o644)
        } catch {
            throw failure(path, error, writing: true)
        }
    }

    static func writeStandardOutput(_ bytes: [UInt8], displayName: String) throws(PolicyFormatError) {
        do {
            try FileSystem.writeAll(bytes, to: STDOUT_FILENO, name: displayName)
        } catch {
            throw failure(displayName, error)
        }
    }

    /// `cannot open: no such file or directory`.
    private static func failure(_ file: String, _ error: SystemError, writing: Bool = false) -> PolicyFormatError {
        let what =
            switch error.operation {
            case "open": writing ? "cannot create" : "cannot open"
            case "stat": "cannot inspect"
            case "read": "cannot read"
            case "rename": "cannot replace"
            default: "cannot write"
            }
        return PolicyFormatError(file: file, message: "\(what): \(error.detail ?? error.errno.description)")
    }
}
