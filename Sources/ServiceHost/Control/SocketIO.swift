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

    /// A new `AF_UNIX` stream socket (close-on-exec; non-blocking when asked, for the server's loop).
    static func make(nonBlocking: Bool = false) throws(SystemError) -> Int32 {
        let flags = Int32(SOCK_CLOEXEC.rawValue) | (nonBlocking ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        return try SystemCall.check("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | flags, 0) }
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
