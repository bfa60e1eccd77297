import Driver
import IPsecSystem

#if canImport(Glibc)
import Glibc
#endif

/// One ipsecsvc driver per network namespace: the kernel hooks and queues of a namespace are one set, and
/// two drivers would fight over them (and the second one's stop would remove the first one's rules).
///
/// The lock is an abstract Unix socket named after the driver's chain prefix: abstract names are scoped to
/// the network namespace and released by the kernel when the holder exits, however it exits, so a crashed
/// driver never leaves a stale lock. The holder listens on it, so a second driver can name the holder's
/// PID (`SO_PEERCRED`) in its refusal.
final class DriverInstanceLock: Sendable {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Takes the lock for `chainPrefix` in this network namespace.
    /// - Throws: ``DriverError`` (`anotherInstance`, naming the holder's PID) when another driver holds it;
    ///   ``SystemError`` when the socket cannot be made.
    static func acquire(chainPrefix: String) throws -> DriverInstanceLock {
        let name = "ipsecsvc-driver/\(chainPrefix)"
        let fd = try UnixSocket.make()
        let bound = UnixSocket.withAbstractAddress(name) { address, length in bind(fd, address, length) }
        if bound == 0, listen(fd, 1) == 0 { return DriverInstanceLock(fd: fd) }
        let code = Errno.current
        close(fd)
        guard code.rawValue == EADDRINUSE else { throw SystemError("bind", path: "@\(name)", errno: code) }
        throw DriverError(.anotherInstance, "another ipsecsvc driver\(holder(name)) runs in this network namespace")
    }

    /// ` (pid N)` of the process that holds `name`, when it can be told.
    private static func holder(_ name: String) -> String {
        guard let fd = try? UnixSocket.make() else { return "" }
        defer { close(fd) }
        let connected = UnixSocket.withAbstractAddress(name) { address, length in connect(fd, address, length) }
        guard connected == 0, let peer = try? PeerCredentials.of(socket: fd) else { return "" }
        return " (pid \(peer.pid))"
    }

    /// Gives the lock up (also implied by the process's exit).
    func release() { close(fd) }
}
