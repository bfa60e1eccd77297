internal import CIPsecSystem

#if canImport(Glibc)
import Glibc
#endif

/// Files and directories: the bounded reader and the small operations around it. Every call blocks;
/// async code runs them through ``BlockingPool``.
public enum FileSystem {
    /// Which files ``read(_:limit:accept:)`` accepts.
    public enum Accept: Sendable {
        /// Anything that can be read to its end: regular files, `/proc` files (whose size reads as
        /// 0), pipes and FIFOs (`policy import <(...)`, standard input). Directories are refused.
        case streams
        /// Regular files only: a FIFO or a device is refused without waiting for a writer, so that the
        /// size can be checked before a byte is read.
        case regularFiles
    }

    /// The whole content of `path`, refusing more than `limit` bytes.
    ///
    /// The size of a regular file is checked before anything is read; any other stream is read until
    /// its end or until it passes `limit`, whichever comes first.
    /// - Throws: ``SystemError`` naming `path`: `open` (`noSuchFile`, `permissionDenied`, ...), `read`
    ///   with ``Errno/isDirectory``, ``Errno/invalidArgument`` (not a regular file, for
    ///   ``Accept/regularFiles``) or ``Errno/fileTooLarge`` (over `limit`).
    public static func read(_ path: String, limit: Int, accept: Accept = .streams) throws(SystemError) -> [UInt8] {
        // O_NONBLOCK: opening a FIFO must not wait for a writer when only regular files are wanted.
        let flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | (accept == .regularFiles ? O_NONBLOCK : 0)
        let fd = try SystemCall.check("open", path: path) { open(path, flags) }
        defer { close(fd) }
        return try read(descriptor: fd, name: path, limit: limit, accept: accept)
    }

    /// ``read(_:limit:accept:)``, or `nil` when `path` does not exist.
    public static func readIfPresent(
        _ path: String,
        limit: Int,
        accept: Accept = .streams
    ) throws(SystemError) -> [UInt8]? {
        do {
            return try read(path, limit: limit, accept: accept)
        } catch  where error.errno == .noSuchFile && error.operation == "open" {
            return nil
        }
    }

    /// At most the first `count` bytes of the regular file `path` (fewer when the file is shorter), or
    /// `nil` when it does not exist: for a look at a file's head without reading the rest of it.
    /// - Throws: ``SystemError`` naming `path` (`open`, `read`; ``Errno/invalidArgument`` when it is
    ///   not a regular file).
    public static func readPrefixIfPresent(_ path: String, count: Int) throws(SystemError) -> [UInt8]? {
        let fd: Int32
        do {
            fd = try SystemCall.check("open", path: path) { open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK) }
        } catch  where error.errno == .noSuchFile {
            return nil
        }
        defer { close(fd) }
        var status = stat()
        try SystemCall.check("stat", path: path) { fstat(fd, &status) }
        if status.st_mode & S_IFMT != S_IFREG {
            throw SystemError("read", path: path, errno: .invalidArgument, detail: "not a regular file")
        }
        var bytes = [UInt8](repeating: 0, count: max(0, count))
        var filled = 0
        while filled < bytes.count {
            let got = try SystemCall.check("read", path: path) {
                bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            }
            if got == 0 { break }
            filled += got
        }
        bytes.removeLast(bytes.count - filled)
        return bytes
    }

    /// ``read(_:limit:accept:)`` decoded as UTF-8 (invalid sequences become U+FFFD).
    public static func readText(_ path: String, limit: Int) throws(SystemError) -> String {
        String(decoding: try read(path, limit: limit), as: UTF8.self)
    }

    /// ``readText(_:limit:)``, or `nil` when `path` does not exist.
    public static func readTextIfPresent(_ path: String, limit: Int) throws(SystemError) -> String? {
        try readIfPresent(path, limit: limit).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Reads the open descriptor `fd` to its end (standard input for `policy import -`), with the
    /// rules of ``read(_:limit:accept:)``; `name` is what errors call it.
    public static func read(
        descriptor fd: Int32,
        name: String,
        limit: Int,
        accept: Accept = .streams
    ) throws(SystemError) -> [UInt8] {
        var status = stat()
        try SystemCall.check("stat", path: name) { fstat(fd, &status) }
        let type = status.st_mode & S_IFMT
        if type == S_IFDIR { throw SystemError("read", path: name, errno: .isDirectory) }
        if accept == .regularFiles && type != S_IFREG {
            throw SystemError("read", path: name, errno: .invalidArgument, detail: "not a regular file")
        }
        if type == S_IFREG && Int(status.st_size) > limit { throw tooLarge(name, limit, size: Int(status.st_size)) }
        var bytes: [UInt8] = []
        // A regular file's size is known (and may still grow while we read); other streams start small.
        bytes.reserveCapacity(type == S_IFREG ? min(Int(status.st_size) + 1, limit + 1) : 0)
        var chunk = [UInt8](repeating: 0, count: min(64 << 10, limit + 1))
        while true {
            let count = try SystemCall.check("read", path: name) {
                chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit { throw tooLarge(name, limit) }
        }
    }

    /// The detail says the size when it is known: `209715200 bytes, larger than the limit of 67108864 bytes`.
    private static func tooLarge(_ name: String, _ limit: Int, size: Int? = nil) -> SystemError {
        let limitText = "larger than the limit of \(limit) bytes"
        return SystemError(
            "read",
            path: name,
            errno: .fileTooLarge,
            detail: size.map { "\($0) bytes, \(limitText)" } ?? limitText
        )
    }

    /// Writes all of `bytes` to `fd` (standard output, a pipe), retrying short writes and `EINTR`.
    public static func writeAll(_ bytes: [UInt8], to fd: Int32, name: String) throws(SystemError) {
        var written = 0
        while written < bytes.count {
            written += try SystemCall.check("write", path: name) {
                bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            }
        }
    }

    /// Whether something exists at `path` (a dangling symbolic link does not).
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Whether `path` is a directory.
    public static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }

    /// One version of a file as `stat` sees it: device, inode, size, modification and change times.
    /// A write through ``DurableFile`` (a new inode) or in place (new times) gives another value.
    public struct Version: Hashable, Sendable {
        public var device: UInt64
        public var inode: UInt64
        public var size: Int64
        public var modified: Int64
        public var modifiedNanoseconds: Int64
        public var changed: Int64
        public var changedNanoseconds: Int64
    }

    /// The version of the file at `path` (symbolic links followed), `nil` when it cannot be stat'ed:
    /// tells whether a file changed without reading it.
    public static func version(_ path: String) -> Version? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return Version(
            device: UInt64(status.st_dev),
            inode: UInt64(status.st_ino),
            size: Int64(status.st_size),
            modified: Int64(status.st_mtim.tv_sec),
            modifiedNanoseconds: Int64(status.st_mtim.tv_nsec),
            changed: Int64(status.st_ctim.tv_sec),
            changedNanoseconds: Int64(status.st_ctim.tv_nsec)
        )
    }

    /// Removes a file; a missing file is not an error.
    public static func remove(_ path: String) throws(SystemError) {
        if unlink(path) != 0 && Errno.current != .noSuchFile { throw SystemError("unlink", path: path) }
    }

    /// Renames `from` to `to` (atomic within one file system).
    public static func rename(_ from: String, to: String) throws(SystemError) {
        try SystemCall.check("rename to \(to)", path: from) { Glibc.rename(from, to) }
    }

    /// Creates `path` and its missing parents with `mode`; existing directories are left alone.
    public static func makeDirectories(_ path: String, mode: UInt32 = 0o755) throws(SystemError) {
        guard !path.isEmpty else { return }
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, mode_t(mode)) != 0 {
                let code = Errno.current
                if code == .exists { continue }
                throw SystemError("mkdir", path: current, errno: code)
            }
        }
    }

    /// Creates a new directory with mode 0700 and a unique name `prefix` + six characters inside
    /// `parent`; returns its path.
    public static func makePrivateDirectory(in parent: String, prefix: String) throws(SystemError) -> String {
        var template = Array((parent + "/" + prefix + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard made else { throw SystemError("mkdtemp", path: parent + "/" + prefix) }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Removes an empty directory; a missing one is not an error.
    public static func removeDirectory(_ path: String) throws(SystemError) {
        if rmdir(path) != 0 && Errno.current != .noSuchFile { throw SystemError("rmdir", path: path) }
    }

    /// The names in directory `path` (without `.` and `..`), sorted.
    public static func entries(of path: String) throws(SystemError) -> [String] {
        guard let stream = opendir(path) else { throw SystemError("opendir", path: path) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The directory part of `path` (`.` when there is none, `/` for a file at the root).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }
}
