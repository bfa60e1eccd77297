import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The control socket server: a listening Unix stream socket served by a dedicated accept thread and
/// one short-lived thread per connection, so that no socket call ever blocks the cooperative pool.
/// Each connection carries one request line and gets one response line; requests are bounded in size
/// and time, and every request is checked against the peer's credentials first.
public final class ControlServer: Sendable {
    /// The most connections served at once; more get a `busy` answer.
    public static let maxConnections = 32

    public let path: String
    private let listener: Int32
    private let registry: ControlRegistry
    private let makeContext: @Sendable (PeerCredentials) -> ControlContext
    private let authorizer: PeerAuthorizer
    private let journal: any Journal
    private let timeoutSeconds: Int
    private let maxRequestBytes: Int
    private let stopping = Atomic<Bool>(false)
    private let active = Atomic<Int>(0)
    private let finished = DispatchSemaphore(value: 0)

    /// Binds and listens on `configuration.socketPath` (mode and group from the configuration).
    /// - Throws: ``WindowsError/alreadyRunning`` when another service answers on the socket, or the
    ///   ``SystemError`` of the failing call.
    public init(
        configuration: ServiceConfiguration,
        registry: ControlRegistry,
        journal: any Journal,
        makeContext: @escaping @Sendable (PeerCredentials) -> ControlContext
    ) throws {
        let path = configuration.socketPath
        self.path = path
        self.registry = registry
        self.makeContext = makeContext
        self.authorizer = PeerAuthorizer(groupName: configuration.adminGroup)
        self.journal = journal
        self.timeoutSeconds = configuration.requestTimeoutSeconds
        self.maxRequestBytes = configuration.maxRequestBytes

        try Posix.makeDirectories(Posix.directory(of: path), mode: 0o755)
        if Posix.fileExists(path) {
            if ControlClient(socketPath: path).isListening() { throw WindowsError.alreadyRunning }
            unlink(path)  // stale socket of a crashed process
        }
        let fd = try UnixSocket.make()
        do {
            // Bind under a restrictive umask so the socket never exists with wider permissions.
            let previous = umask(0o177)
            defer { umask(previous) }
            let bound = try UnixSocket.withAddress(path) { address, length in bind(fd, address, length) }
            guard bound == 0 else { throw SystemError("bind", path: path) }
            if let gid = authorizer.groupID {
                try Posix.call("chown", path: path) { chown(path, uid_t.max, gid) }
            }
            try Posix.call("chmod", path: path) { chmod(path, mode_t(configuration.socketMode)) }
            try Posix.call("listen", path: path) { listen(fd, 64) }
        } catch {
            close(fd)
            throw error
        }
        self.listener = fd
    }

    /// Starts the accept thread.
    public func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "ipsecsvc-control"
        thread.start()
    }

    /// Stops accepting, closes and removes the socket; returns when the accept thread has ended.
    /// Connections being served finish on their own threads.
    public func stop() async {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let finished = self.finished
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiter = Thread {
                finished.wait()
                continuation.resume()
            }
            waiter.start()
        }
    }

    private func acceptLoop() {
        defer {
            close(listener)
            unlink(path)
            finished.signal()
        }
        while !stopping.load(ordering: .acquiring) {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 200)
            if ready <= 0 { continue }
            // accept4 needs _GNU_SOURCE, which the Glibc module lacks; the race with exec is harmless
            // here because the service spawns no children.
            let connection = accept(listener, nil, nil)
            if connection < 0 { continue }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            UnixSocket.setTimeouts(connection, seconds: timeoutSeconds)
            if active.add(1, ordering: .acquiringAndReleasing).newValue > Self.maxConnections {
                active.subtract(1, ordering: .acquiringAndReleasing)
                try? UnixSocket.sendAll(
                    connection,
                    ControlRegistry.errorLine(ControlError(.busy, "The service is busy; try again."))
                )
                close(connection)
                continue
            }
            let thread = Thread { [self] in
                serve(connection)
                active.subtract(1, ordering: .acquiringAndReleasing)
            }
            thread.start()
        }
    }

    /// Serves one connection on its own thread: authorize, read one bounded line, answer, close.
    private func serve(_ fd: Int32) {
        defer { close(fd) }
        let peer: PeerCredentials
        do {
            peer = try PeerCredentials.of(socket: fd)
        } catch {
            return
        }
        let request = UnixSocket.readLine(fd, limit: maxRequestBytes)
        guard authorizer.isAuthorized(peer) else {
            journal.record(
                JournalEntry(
                    .accessRefused,
                    priority: .warning,
                    "Access to the IPSec Services control socket was refused to \(peer): only root and members of '\(authorizer.groupName)' may use it.",
                    fields: [
                        "IPSECSVC_PEER_UID": String(peer.uid), "IPSECSVC_PEER_PID": String(peer.pid),
                        "IPSECSVC_PEER_GID": String(peer.gid),
                    ]
                )
            )
            finish(
                fd,
                ControlRegistry.errorLine(
                    ControlError(
                        .accessDenied,
                        "Access is denied: only root and members of the '\(authorizer.groupName)' group may control the IPsec Services service.",
                        windowsError: WindowsError.accessDenied.code
                    )
                )
            )
            return
        }
        switch request {
        case .closed:
            return
        case .timedOut:
            finish(
                fd,
                ControlRegistry.errorLine(
                    ControlError(.timeout, "No complete request arrived within \(timeoutSeconds) seconds.")
                )
            )
        case .tooLarge:
            finish(
                fd,
                ControlRegistry.errorLine(
                    ControlError(.tooLarge, "The request exceeds the limit of \(maxRequestBytes) bytes.")
                )
            )
        case .line(let bytes):
            let context = makeContext(peer)
            let registry = self.registry
            let box = ResponseBox()
            Task {
                box.set(await registry.handle(bytes, context: context))
            }
            finish(fd, box.wait())
        }
    }

    private func finish(_ fd: Int32, _ response: [UInt8]) {
        try? UnixSocket.sendAll(fd, response)
        shutdown(fd, Int32(SHUT_WR))
        // Bounded in bytes here and in time by the socket's receive timeout.
        UnixSocket.drain(fd, limit: max(4 * maxRequestBytes, 1 << 20))
    }
}

/// Hands a handler's answer from its task back to the connection thread, which waits for it.
private final class ResponseBox: Sendable {
    private let value = Mutex<[UInt8]>([])
    private let ready = DispatchSemaphore(value: 0)

    func set(_ bytes: [UInt8]) {
        value.withLock { $0 = bytes }
        ready.signal()
    }

    func wait() -> [UInt8] {
        ready.wait()
        return value.withLock { $0 }
    }
}
