import Glibc

/// The system calls of the vici client, each in one small wrapper with a typed error: a
/// non-blocking Unix stream socket, an eventfd to wake the connection thread, and poll.
///
/// This is the only file of the Keying module that talks to the kernel; it moves to the project's
/// system layer once that exists.
enum ViciSocket {
    /// What one non-blocking read or write did.
    enum Transfer: Equatable {
        case bytes(Int)
        case wouldBlock
        case closed
    }

    /// Connects to the Unix stream socket at `path` (close-on-exec, non-blocking).
    /// - Throws: ``ViciError/unavailable(_:)`` when nothing listens there.
    /// The corresponding C functions are `socket` and `connect`.
    static func connect(_ path: String) throws(ViciError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else {
            throw .unavailable("the vici socket path \"\(path)\" is empty or longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", errno: errno) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if result != 0 {
            let code = errno
            Glibc.close(fd)
            throw .unavailable("cannot connect to \(path): \(String(cString: strerror(code)))")
        }
        // Non-blocking only after connect: a Unix stream connect then never reports EINPROGRESS.
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .system("fcntl", errno: code)
        }
        return fd
    }

    /// A wake-up channel (a non-blocking, close-on-exec socket pair): the thread polls `read`, others
    /// write to `write`. The corresponding C function is `socketpair`.
    static func makeWakeup() throws(ViciError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else { throw .system("socketpair", errno: errno) }
        return (fds[0], fds[1])
    }

    /// Makes the next `poll` on the read end return. The corresponding C function is `write`.
    static func wake(_ fd: Int32) {
        var byte: UInt8 = 1
        _ = Glibc.write(fd, &byte, 1)
    }

    /// Empties the wake-up channel. The corresponding C function is `read`.
    static func drain(_ fd: Int32) {
        var bytes = [UInt8](repeating: 0, count: 64)
        while bytes.withUnsafeMutableBytes({ Glibc.read(fd, $0.baseAddress, $0.count) }) > 0 {}
    }

    /// Waits until `socket` is readable (or writable, when `wantWrite`) or `wakeup` fired, at most
    /// `timeoutMilliseconds` (-1: no limit). Returns the socket's and the wakeup's revents.
    /// The corresponding C function is `poll`.
    static func poll(
        _ socket: Int32,
        wantWrite: Bool,
        wakeup: Int32,
        timeoutMilliseconds: Int32
    ) throws(ViciError) -> (socket: Int16, wakeup: Int16) {
        var fds = [
            pollfd(fd: socket, events: Int16(POLLIN) | (wantWrite ? Int16(POLLOUT) : 0), revents: 0),
            pollfd(fd: wakeup, events: Int16(POLLIN), revents: 0),
        ]
        let result = Glibc.poll(&fds, 2, timeoutMilliseconds)
        if result < 0 {
            if errno == EINTR { return (0, 0) }
            throw .system("poll", errno: errno)
        }
        return (fds[0].revents, fds[1].revents)
    }

    /// Reads what is available into `buffer`. The corresponding C function is `read`.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(ViciError) -> Transfer {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count > 0 { return .bytes(count) }
            if count == 0 { return .closed }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case ECONNRESET, EPIPE: return .closed
            default: throw .system("read", errno: errno)
            }
        }
    }

    /// Writes as much of `bytes` as the socket takes now. The corresponding C function is `send`
    /// (with `MSG_NOSIGNAL`: a daemon that went away must not raise SIGPIPE).
    static func write(_ fd: Int32, _ bytes: ArraySlice<UInt8>) throws(ViciError) -> Transfer {
        while true {
            let count = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count >= 0 { return .bytes(count) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case ECONNRESET, EPIPE: return .closed
            default: throw .system("send", errno: errno)
            }
        }
    }

    /// The corresponding C function is `close`.
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}
