// ServiceHost owns the service configuration, the lifecycle state machine, the computer-startup
// sequence, the control socket and its authorization, systemd readiness/watchdog/reload, journald
// logging, and the wiring providers → merger → driver. This file holds the thin Glibc wrappers the rest
// of the module uses, so that errno handling lives in one place.
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: what was attempted, on which path, and `errno`.
public struct SystemError: Error, Hashable, Sendable, CustomStringConvertible {
    public var operation: String
    public var path: String?
    public var errno: Int32

    public init(_ operation: String, path: String? = nil, errno: Int32? = nil) {
        self.operation = operation
        self.path = path
        self.errno = errno ?? Glibc.errno
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        if let path { return "\(path): \(operation) failed: \(reason)" }
        return "\(operation) failed: \(reason)"
    }
}

/// Small throwing wrappers over the Glibc calls the service host needs.
enum Posix {
    /// Retries `body` while it fails with `EINTR`; throws ``SystemError`` on any other failure.
    /// The corresponding C convention is "returns -1 and sets errno".
    @discardableResult
    static func call<T: BinaryInteger>(
        _ operation: String,
        path: String? = nil,
        _ body: () -> T
    ) throws(SystemError) -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = Glibc.errno
            if code == EINTR { continue }
            throw SystemError(operation, path: path, errno: code)
        }
    }

    /// Reads a whole (small) file; `nil` when it does not exist.
    static func readFile(_ path: String, limit: Int = 1 << 20) throws(SystemError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if Glibc.errno == ENOENT { return nil }
            throw SystemError("open", path: path)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = try call("read", path: path) {
                chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit { throw SystemError("read", path: path, errno: EFBIG) }
        }
        return bytes
    }

    /// Reads a text file; `nil` when it does not exist.
    static func readText(_ path: String) throws(SystemError) -> String? {
        guard let bytes = try readFile(path) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Creates `path` and its missing parents with `mode` (existing directories are left alone).
    static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        guard !path.isEmpty else { return }
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, mode) != 0 {
                let code = Glibc.errno
                if code == EEXIST { continue }
                throw SystemError("mkdir", path: current, errno: code)
            }
        }
    }

    static func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The directory part of `path` (`.` when there is none).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }

    /// Whether process `pid` exists (signal 0).
    static func processExists(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || Glibc.errno == EPERM
    }

    /// Whether process `pid` exists and has not exited (a zombie waiting for its parent counts as
    /// exited: `kill(pid, 0)` alone would still succeed).
    static func processIsAlive(_ pid: Int32) -> Bool {
        guard processExists(pid) else { return false }
        guard let stat = try? readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: close)...].trimmingWhitespace().first
        return state != "Z" && state != "X"
    }

    /// The environment variable `name`, if set.
    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Monotonic clock in microseconds (what systemd's `MONOTONIC_USEC=` expects).
    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }

    /// Seconds since 1970 UTC.
    static func now() -> Int64 { Int64(time(nil)) }
}
