#if canImport(Glibc)
import Glibc
#endif

/// The client side of a Unix stream socket, non-blocking, for a connection served by a thread of
/// its own that polls it together with a wake-up pipe (the vici client of keying).
public enum UnixStreamClient {
    /// What one non-blocking read or write did.
    public enum Transfer: Hashable, Sendable {
        case bytes(Int)
        case wouldBlock
        /// The other end closed (or reset) the connection.
        case closed
    }

    /// Connects to the socket at `path` (close-on-exec), then makes it non-blocking: a Unix stream
    /// connect never reports `EINPROGRESS` that way. Throws ``SystemError`` naming `path`
    /// (`connect`: no such file, connection refused, permission denied).
    public static func connect(_ path: String) throws(SystemError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else {
            throw SystemError("connect", path: path, errno: .nameTooLong)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let fd = try SystemCall.check("socket", path: path) {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do {
            try SystemCall.check("connect", path: path) {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
            }
            let flags = try SystemCall.check("fcntl(F_GETFL)", path: path) { fcntl(fd, F_GETFL) }
            try SystemCall.check("fcntl(F_SETFL)", path: path) { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
        } catch {
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    /// Waits until `socket` is readable (and writable, when `wantWrite`) or `wakeup` is readable, at
    /// most `timeoutMilliseconds` (-1: no limit). Returns both `revents`; an interrupted wait returns
    /// zeros.
    public static func poll(
        _ socket: Int32,
        wantWrite: Bool,
        wakeup: Int32,
        timeoutMilliseconds: Int32
    ) throws(SystemError) -> (socket: Int16, wakeup: Int16) {
        var fds = [
            pollfd(fd: socket, events: Int16(POLLIN) | (wantWrite ? Int16(POLLOUT) : 0), revents: 0),
            pollfd(fd: wakeup, events: Int16(POLLIN), revents: 0),
        ]
        let result = try SystemCall.check("poll", retryOnInterrupt: false) { () -> Int32 in
            let count = Glibc.poll(&fds, 2, timeoutMilliseconds)
            return count < 0 && errno == EINTR ? 0 : count
        }
        return result == 0 ? (0, 0) : (fds[0].revents, fds[1].revents)
    }

    /// Reads what is available into `buffer`.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Transfer {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count > 0 { return .bytes(count) }
            if count == 0 { return .closed }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case ECONNRESET, EPIPE: return .closed
            default: throw SystemError("read")
            }
        }
    }

    /// Writes as much of `bytes` as the socket takes now (`MSG_NOSIGNAL`: a peer that went away must
    /// not raise SIGPIPE).
    public static func write(_ fd: Int32, _ bytes: ArraySlice<UInt8>) throws(SystemError) -> Transfer {
        while true {
            let count = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count >= 0 { return .bytes(count) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case ECONNRESET, EPIPE: return .closed
            default: throw SystemError("send")
            }
        }
    }

    /// Makes a `poll` on the read end of a wake-up pipe return.
    public static func wake(_ fd: Int32) {
        var byte: UInt8 = 1
        _ = Glibc.write(fd, &byte, 1)
    }

    /// Empties a non-blocking wake-up pipe.
    public static func drain(_ fd: Int32) {
        var bytes = [UInt8](repeating: 0, count: 64)
        while bytes.withUnsafeMutableBytes({ Glibc.read(fd, $0.baseAddress, $0.count) }) > 0 {}
    }

    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}
