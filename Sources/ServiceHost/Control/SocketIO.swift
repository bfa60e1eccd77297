import IPsecSystem

#if canImport(Glibc)
import Glibc
#endif

/// Unix stream socket plumbing shared by the control server and client (the client blocks, with
/// timeouts; the server's loop uses non-blocking calls of its own).
enum UnixSocket {
    /// Makes a `sockaddr_un` for `path` and calls `body` with it.
    static func withAddress<R>(
        _ path: String,
        _ body: (UnsafePointer<sockaddr>, socklen_t) -> R
    ) throws(SystemError) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { throw SystemError("bind", path: path, errno: .nameTooLong) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    /// Makes a `sockaddr_un` for the abstract name `name` (Linux: no file, scoped to the network
    /// namespace, gone with the last socket bound to it) and calls `body` with it.
    static func withAbstractAddress<R>(_ name: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8.prefix(MemoryLayout.size(ofValue: address.sun_path) - 1))
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw[0] = 0
            raw.baseAddress!.advanced(by: 1).copyMemory(from: bytes, byteCount: bytes.count)
        }
        let length = MemoryLayout<sa_family_t>.size + 1 + bytes.count
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(length)) }
        }
    }

    /// A new `AF_UNIX` stream socket (close-on-exec; non-blocking when asked, for the server's loop).
    static func make(nonBlocking: Bool = false) throws(SystemError) -> Int32 {
        let flags = Int32(SOCK_CLOEXEC.rawValue) | (nonBlocking ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        return try SystemCall.check("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | flags, 0) }
    }

    /// A new socket connected to `path` (close-on-exec).
    /// - Throws: ``SystemError`` (`connect`): `ENOENT`/`ECONNREFUSED` when nothing listens.
    static func connect(_ path: String) throws(SystemError) -> Int32 {
        let fd = try make()
        do throws(SystemError) {
            let result = try withAddress(path) { address, length in Glibc.connect(fd, address, length) }
            guard result == 0 else { throw SystemError("connect", path: path) }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Binds the new socket `fd` to `path` and listens, without the socket ever existing at `path` with
    /// wider permissions than `prepare` gives it: it is bound in a private directory beside `path`,
    /// `prepare` sets its owner and mode there (given the staged path), and it is moved into place.
    /// (Not a umask: that is process-wide and would narrow every file and child process other threads
    /// create meanwhile.) On failure `fd` is left open for the caller to close.
    static func bindAndListen(
        _ fd: Int32,
        at path: String,
        backlog: Int32,
        prepare: (String) throws -> Void
    ) throws {
        let staging = try FileSystem.makePrivateDirectory(in: FileSystem.directory(of: path), prefix: ".bind.")
        defer { try? FileSystem.removeDirectory(staging) }
        let staged = staging + "/s"
        defer { try? FileSystem.remove(staged) }
        let bound = try withAddress(staged) { address, length in bind(fd, address, length) }
        guard bound == 0 else { throw SystemError("bind", path: path) }
        try prepare(staged)
        try SystemCall.check("listen", path: path) { listen(fd, backlog) }
        try FileSystem.rename(staged, to: path)
    }

    /// Sets the send and receive timeouts of `fd`.
    static func setTimeouts(_ fd: Int32, seconds: Int) {
        var value = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes all of `bytes` (no SIGPIPE).
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let count = try SystemCall.check("send") {
                bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            }
            offset += count
        }
    }

    /// How reading one line ended.
    enum LineResult {
        case line([UInt8])
        case tooLarge
        case timedOut
        case closed
    }

    /// Reads up to the first newline (or end of stream) within `limit` bytes.
    static func readLine(_ fd: Int32, limit: Int) -> LineResult {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                let code = Errno.current
                if code == .interrupted { continue }
                // EAGAIN: the socket's receive timeout expired.
                if code == .wouldBlock { return .timedOut }
                return bytes.isEmpty ? .closed : .line(bytes)
            }
            if count == 0 { return bytes.isEmpty ? .closed : .line(bytes) }
            if let newline = chunk[0..<count].firstIndex(of: UInt8(ascii: "\n")) {
                bytes.append(contentsOf: chunk[0..<newline])
                return bytes.count > limit ? .tooLarge : .line(bytes)
            }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit { return .tooLarge }
        }
    }
}
