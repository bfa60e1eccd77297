import IPsecSystem
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One connected driver socket, either end: a dedicated thread reads frames and hands each to the owner;
/// frames go out one at a time from the blocking pool.
///
/// Threads (DESIGN.md §7): the reader (`ipsecsvc-drvlink`) lives as long as the connection; it blocks
/// in `recv`, never on the cooperative pool. A send blocks at most ``sendTimeoutSeconds`` (a peer that
/// stops reading — stopped, hung — ends the connection instead of holding a pool thread).
final class LinkConnection: Sendable {
    /// How long one send may block before the connection is given up.
    static let sendTimeoutSeconds = 5
    /// How long the rest of a frame may take once its first byte arrived.
    static let frameTimeoutSeconds = 30

    let peer: PeerCredentials
    private let fd: Int32
    /// Whether the descriptor is still open; sends and the reader's close take this lock.
    private let open = Mutex(true)
    private let ended = LoopEnd()

    /// Takes ownership of the connected socket `fd`.
    init(fd: Int32, peer: PeerCredentials) {
        self.fd = fd
        self.peer = peer
        UnixSocket.setTimeouts(fd, seconds: Self.frameTimeoutSeconds)
        var send = timeval(tv_sec: Self.sendTimeoutSeconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Starts the reader: every frame goes to `receive` (on the reader thread: it must not block); when
    /// the peer closes or sends something unreadable, `end` gets the reason and the socket is closed.
    /// - Throws: ``SystemError`` when no thread can be created (the socket is then closed).
    func start(
        receive: @escaping @Sendable (LinkFrame) -> Void,
        end: @escaping @Sendable (String) -> Void
    ) throws(SystemError) {
        do {
            try DedicatedThread.start(name: "ipsecsvc-drvlink") { [self] in
                let reason = readFrames(receive)
                open.withLock { isOpen in
                    isOpen = false
                    Glibc.close(fd)
                }
                end(reason)
                ended.finish()
            }
        } catch {
            open.withLock { isOpen in
                isOpen = false
                Glibc.close(fd)
            }
            throw error
        }
    }

    /// Sends one frame from the blocking pool.
    /// - Throws: ``DriverLinkError`` when the connection is closed or the send fails or times out (the
    ///   connection is then closed).
    func send(_ frame: LinkFrame) async throws(DriverLinkError) {
        let bytes = frame.encoded
        let result: Result<Void, DriverLinkError> = await BlockingPool.shared.run { [self] in
            open.withLock { isOpen -> Result<Void, DriverLinkError> in
                guard isOpen else { return .failure(DriverLinkError("the driver link is closed")) }
                do {
                    try UnixSocket.sendAll(fd, bytes)
                    return .success(())
                } catch {
                    // The reader sees the end and reports it.
                    shutdown(fd, Int32(SHUT_RDWR))
                    return .failure(DriverLinkError("the driver link failed: \(error)"))
                }
            }
        }
        try result.get()
    }

    /// Ends the connection: the reader sees the end, closes the socket and reports it.
    func close() {
        open.withLock { isOpen in
            if isOpen { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// Returns once the reader has closed the socket.
    func closed() async {
        await ended.wait()
    }

    // MARK: - Reading (the reader thread)

    private func readFrames(_ receive: (LinkFrame) -> Void) -> String {
        while true {
            let header: [UInt8]
            switch readExactly(DriverLink.headerSize, idleAllowed: true) {
            case .bytes(let bytes): header = bytes
            case .end(let reason): return reason
            }
            guard Array(header[0..<4]) == DriverLink.magic else { return "the peer sent something that is not a frame" }
            let version = UInt16(header[4]) | UInt16(header[5]) << 8
            let kindValue = UInt16(header[6]) | UInt16(header[7]) << 8
            func u32(_ at: Int) -> Int {
                Int(header[at]) | Int(header[at + 1]) << 8 | Int(header[at + 2]) << 16 | Int(header[at + 3]) << 24
            }
            let id = UInt32(u32(8))
            let jsonLength = u32(12)
            let tailLength = u32(16)
            guard version == DriverLink.version else {
                return "the peer speaks driver protocol version \(version); this build speaks \(DriverLink.version)"
            }
            guard let kind = FrameKind(rawValue: kindValue) else { return "unknown frame kind \(kindValue)" }
            guard jsonLength <= DriverLink.maxJSONBytes, tailLength <= DriverLink.maxTableBytes else {
                return "a frame of \(jsonLength) + \(tailLength) bytes exceeds the limits"
            }
            var parts: [[UInt8]] = []
            for length in [jsonLength, tailLength] {
                switch readExactly(length, idleAllowed: false) {
                case .bytes(let bytes): parts.append(bytes)
                case .end(let reason): return reason
                }
            }
            receive(LinkFrame(kind: kind, id: id, json: parts[0], tail: parts[1]))
        }
    }

    private enum ReadResult {
        case bytes([UInt8])
        case end(String)
    }

    /// Reads exactly `count` bytes. Before the first byte of a frame (`idleAllowed`) the receive timeout
    /// only means that the peer is quiet; within a frame it ends the connection.
    private func readExactly(_ count: Int, idleAllowed: Bool) -> ReadResult {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let received = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + filled, count - filled, 0) }
            if received > 0 {
                filled += received
                continue
            }
            if received == 0 {
                return .end(
                    filled == 0 && idleAllowed ? "the peer closed the link" : "the peer closed the link within a frame"
                )
            }
            let code = Errno.current
            if code == .interrupted { continue }
            if code == .wouldBlock, idleAllowed, filled == 0 { continue }
            return .end(
                code == .wouldBlock
                    ? "a frame took longer than \(Self.frameTimeoutSeconds) seconds"
                    : "\(SystemError("recv", path: "driver link", errno: code))"
            )
        }
        return .bytes(bytes)
    }
}
