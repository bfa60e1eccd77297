import Driver
import IPsecSystem

#if canImport(Glibc)
import Glibc
#endif

/// One ipsecsvc driver per network namespace: the kernel hooks and queues of a namespace are one set, and
/// two drivers would fight over them (and the second one's stop would remove the first one's rules).
///
/// The lock is an abstract Unix socket named after the driver's chain prefix: abstract names are scoped to
/// the network namespace and released by the kernel when the last descriptor of the socket closes, so a
/// crashed driver never leaves a stale lock. The holder listens on it, so a second driver can name the
/// holder's PID (`SO_PEERCRED`) in its refusal.
///
/// The last descriptor is not always the driver's own: a child the driver was starting when it died
/// holds a copy of every descriptor from `posix_spawn`'s clone until its exec closes them (close-on-exec;
/// Linux has no close-on-fork), and a loaded machine can leave that child without a CPU for a while. A
/// name whose listener has exited is therefore not refused: the driver waits for the copy to close.
final class DriverInstanceLock: Sendable {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// How long a driver waits for a copy of an exited driver's lock socket to close before it refuses.
    static let inheritedCopyLimit: Duration = .seconds(10)

    /// Takes the lock for `chainPrefix` in this network namespace; `waiting` hears once that it waits for
    /// a copy of the lock socket of the exited driver with that PID.
    /// - Throws: ``DriverError`` (`anotherInstance`, naming the holder's PID) when a running driver holds
    ///   it, or when a copy of an exited driver's lock socket is still open after `limit`; ``SystemError``
    ///   when the socket cannot be made.
    static func acquire(
        chainPrefix: String,
        limit: Duration = inheritedCopyLimit,
        waiting: (Int32) -> Void = { _ in }
    ) async throws -> DriverInstanceLock {
        let name = "ipsecsvc-driver/\(chainPrefix)"
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var exited: Int32?
        while true {
            // Judged before the try: a task resumed late still gets one try after the deadline.
            let late = clock.now >= deadline
            if let lock = try bind(name) { return lock }
            switch holder(name) {
            case .running(let pid):
                throw DriverError(.anotherInstance, "another ipsecsvc driver\(pid) runs in this network namespace")
            case .exited(let pid):
                if exited == nil { waiting(pid) }
                exited = pid
            case .unknown:
                // A full queue of this wait's own probes (see `backlog`) is still the exited driver's socket.
                guard exited != nil else {
                    throw DriverError(.anotherInstance, "another ipsecsvc driver runs in this network namespace")
                }
            }
            if late {
                throw DriverError(
                    .anotherInstance,
                    "another ipsecsvc driver\(exited.map { " (pid \($0))" } ?? "") ran in this network namespace and "
                        + "has exited, but \(limit) later a process it started still holds a copy of its lock "
                        + "socket @\(name)"
                )
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Every refused driver's probe stays in the holder's queue until the holder exits (it never accepts
    /// them): room for many refusals; past it a refusal cannot name the PID, and never blocks.
    private static let backlog: Int32 = 128

    /// The lock, or `nil` when the name is bound.
    private static func bind(_ name: String) throws -> DriverInstanceLock? {
        let fd = try UnixSocket.make()
        let bound = UnixSocket.withAbstractAddress(name) { address, length in Glibc.bind(fd, address, length) }
        if bound == 0, listen(fd, backlog) == 0 { return DriverInstanceLock(fd: fd) }
        let code = Errno.current
        close(fd)
        guard code.rawValue == EADDRINUSE else { throw SystemError("bind", path: "@\(name)", errno: code) }
        return nil
    }

    /// Who holds a bound name, as far as a probe connection can tell.
    private enum Holder {
        /// The listener runs: ` (pid N)`, or empty when its PID cannot be told.
        case running(String)
        /// The listener has exited; its socket lives on in a copy.
        case exited(Int32)
        /// No connection (a full queue, or a driver between its bind and its listen).
        case unknown
    }

    private static func holder(_ name: String) -> Holder {
        // Non-blocking: a full queue answers EAGAIN at once instead of blocking the start for good.
        guard let fd = try? UnixSocket.make(nonBlocking: true) else { return .running("") }
        defer { close(fd) }
        let connected = UnixSocket.withAbstractAddress(name) { address, length in connect(fd, address, length) }
        guard connected == 0 else { return .unknown }
        guard let peer = try? PeerCredentials.of(socket: fd) else { return .running("") }
        if PeerCredentials.peerHasExited(socket: fd, pid: peer.pid) { return .exited(peer.pid) }
        return .running(" (pid \(peer.pid))")
    }

    /// Gives the lock up (also implied by the process's exit).
    func release() { close(fd) }
}
