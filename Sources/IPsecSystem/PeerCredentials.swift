internal import CIPsecSystem

/// The process at the other end of a Unix socket as the kernel recorded it at `connect` time
/// (`SO_PEERCRED`, `SO_PEERGROUPS`): it cannot be forged by the peer, and it does not change when the
/// peer later changes its groups or exits and its PID is reused.
public struct PeerCredentials: Hashable, Sendable, Codable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    /// The supplementary groups at `connect` time (empty when the kernel does not report them).
    public var groups: [UInt32]

    public init(pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32] = []) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    /// The peer of the connected socket `fd`.
    /// - Throws: ``SystemError`` (`getsockopt(SO_PEERCRED)` or `getsockopt(SO_PEERGROUPS)`; a kernel
    ///   without `SO_PEERGROUPS`, before 4.13, gives an empty ``groups`` instead).
    public static func of(socket fd: Int32) throws(SystemError) -> PeerCredentials {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        try SystemCall.negativeErrno("getsockopt(SO_PEERCRED)") { cipsec_peer_credentials(fd, &pid, &uid, &gid) }
        return PeerCredentials(pid: pid, uid: uid, gid: gid, groups: try groups(of: fd))
    }

    private static func groups(of fd: Int32) throws(SystemError) -> [UInt32] {
        // NGROUPS_MAX is 65536; most peers have a handful.
        var capacity: Int32 = 64
        while true {
            var groups = [UInt32](repeating: 0, count: Int(capacity))
            var needed: Int32 = 0
            let count = groups.withUnsafeMutableBufferPointer {
                cipsec_peer_groups(fd, $0.baseAddress, capacity, &needed)
            }
            if count >= 0 { return Array(groups.prefix(Int(count))) }
            let code = Errno(rawValue: -count)
            if code == .noProtocolOption { return [] }
            guard code == .outOfRange, needed > capacity, needed <= 65536 else {
                throw SystemError("getsockopt(SO_PEERGROUPS)", errno: code)
            }
            capacity = needed
        }
    }

    public var description: String { "uid \(uid), gid \(gid), pid \(pid)" }
}

/// The accept side of a listening socket.
public enum SocketAccept {
    /// A new connection on `listener`, close-on-exec from the start (so that a child spawned at the same
    /// moment never inherits it), and non-blocking when asked (for a `poll` loop).
    /// - Throws: ``SystemError`` (`accept4`), `wouldBlock` for a non-blocking listener with no connection.
    public static func connection(on listener: Int32, nonBlocking: Bool = false) throws(SystemError) -> Int32 {
        try SystemCall.negativeErrno("accept4") { cipsec_accept_cloexec(listener, nonBlocking ? 1 : 0) }
    }
}
