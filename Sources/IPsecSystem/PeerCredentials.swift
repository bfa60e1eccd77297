internal import CIPsecSystem

/// The process at the other end of a Unix socket (`SO_PEERCRED`), as the kernel recorded it at
/// `connect` time: it cannot be forged by the peer.
public struct PeerCredentials: Hashable, Sendable, Codable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    /// The peer of the connected socket `fd`.
    /// - Throws: ``SystemError`` (`getsockopt(SO_PEERCRED)`).
    public static func of(socket fd: Int32) throws(SystemError) -> PeerCredentials {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        try SystemCall.negativeErrno("getsockopt(SO_PEERCRED)") { cipsec_peer_credentials(fd, &pid, &uid, &gid) }
        return PeerCredentials(pid: pid, uid: uid, gid: gid)
    }

    public var description: String { "uid \(uid), gid \(gid), pid \(pid)" }
}

/// The accept side of a listening socket.
public enum SocketAccept {
    /// A new connection on `listener`, close-on-exec from the start (so that a child spawned at the same
    /// moment never inherits it).
    /// - Throws: ``SystemError`` (`accept4`), `wouldBlock` for a non-blocking listener with no connection.
    public static func connection(on listener: Int32) throws(SystemError) -> Int32 {
        try SystemCall.negativeErrno("accept4") { cipsec_accept_cloexec(listener) }
    }
}
