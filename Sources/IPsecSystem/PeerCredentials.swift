internal import CIPsecSystem

#if canImport(Glibc)
import Glibc
#endif

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

    /// Whether the peer process of the connected socket `fd` has exited, all its threads, so that no
    /// descriptor of its own is open any more (a zombie not yet reaped has): for a listening peer, the
    /// process that called `listen`. Its socket can outlive it in a process that holds a copy (a child it
    /// was starting: between `posix_spawn`'s clone and the child's exec, the child holds every
    /// descriptor). `pid` is the peer's ``pid``, for kernels before 6.5 (no `SO_PEERPIDFD`), where only a
    /// PID that is gone counts and a zombie does not.
    public static func peerHasExited(socket fd: Int32, pid: Int32) -> Bool {
        let pidfd = cipsec_peer_pidfd(fd)
        if pidfd >= 0 {
            defer { close(pidfd) }
            // A pidfd is readable once the whole process has exited.
            var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            var result: Int32
            repeat { result = poll(&entry, 1, 0) } while result < 0 && Errno.current == .interrupted
            return result > 0
        }
        // ESRCH: reaped (kernels that give no pidfd for it). Otherwise (ENOPROTOOPT before 6.5, EINVAL for
        // a reaped peer before 6.16): whether its PID is gone.
        if Errno(rawValue: -pidfd) == .noSuchProcess { return true }
        return kill(pid, 0) != 0 && Errno.current == .noSuchProcess
    }
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
