public import IPsecSystem
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The control socket server: a listening Unix stream socket served by a dedicated accept thread and
/// short-lived threads per connection, so that no socket call ever blocks the cooperative pool.
/// Each connection carries one request line and gets one response line; requests are bounded in size
/// and time, and every request is checked against the peer's credentials first.
///
/// Threads (DESIGN.md §7): the accept loop owns a ``DedicatedThread`` for the server's life. Each
/// connection gets a thread that reads and authorizes its request (bounded by the request timeout),
/// hands it to a task that runs the handler, and ends; the answer is sent from a second short thread,
/// since a slow reader may take up to the timeout per chunk. Neither kind ever waits for a task.
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
    /// Ends when the accept thread has closed and removed the socket.
    private let finished = LoopEnd()

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

        try FileSystem.makeDirectories(FileSystem.directory(of: path), mode: 0o755)
        if FileSystem.exists(path) {
            if ControlClient(socketPath: path).isListening() { throw WindowsError.alreadyRunning }
            unlink(path)  // stale socket of a crashed process
        }
        let fd = try UnixSocket.make()
        do {
            // The socket reaches `path` only once its group and mode are set.
            let gid = authorizer.groupID
            let mode = mode_t(configuration.socketMode)
            try UnixSocket.bindAndListen(fd, at: path, backlog: 64) { staged in
                if let gid { try SystemCall.check("chown", path: path) { chown(staged, uid_t.max, gid) } }
                try SystemCall.check("chmod", path: path) { chmod(staged, mode) }
            }
        } catch {
            close(fd)
            throw error
        }
        self.listener = fd
    }

    /// Starts the accept thread.
    /// - Throws: ``SystemError`` when no thread can be created (the socket is then closed and removed).
    public func start() throws(SystemError) {
        do {
            try DedicatedThread.start(name: "ipsecsvc-control") { [self] in acceptLoop() }
        } catch {
            closeListener()
            throw error
        }
    }

    /// Stops accepting, closes and removes the socket; returns when the accept thread has ended.
    /// Connections being served finish on their own threads.
    public func stop() async {
        stopping.store(true, ordering: .releasing)
        await finished.wait()
    }

    private func closeListener() {
        close(listener)
        unlink(path)
        finished.finish()
    }

    private func acceptLoop() {
        defer { closeListener() }
        while !stopping.load(ordering: .acquiring) {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 200)
            if ready <= 0 { continue }
            // Close-on-exec from the start: the service spawns children (hook tools, plugin hosts).
            guard let connection = try? SocketAccept.connection(on: listener) else { continue }
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
            do {
                try DedicatedThread.start(name: "ipsecsvc-ctl-in") { [self] in serve(connection) }
            } catch {
                done(connection)
            }
        }
    }

    /// The end of a connection: closes it and frees its place.
    private func done(_ fd: Int32) {
        close(fd)
        active.subtract(1, ordering: .acquiringAndReleasing)
    }

    /// Serves one connection: authorize and read one bounded line on this thread, then answer (later,
    /// from ``respond(_:_:)``) or refuse.
    private func serve(_ fd: Int32) {
        let peer: PeerCredentials
        do {
            peer = try PeerCredentials.of(socket: fd)
        } catch {
            done(fd)
            return
        }
        let request = UnixSocket.readLine(fd, limit: maxRequestBytes)
        guard authorizer.isAuthorized(peer) else {
            journal.record(
                JournalEntry(
                    .accessRefused,
                    priority: .warning,
                    "Access to the IPSec Services control socket was refused to \(peer.withUserName): only root and members of '\(authorizer.groupName)' may use it.",
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
            done(fd)
            return
        }
        switch request {
        case .closed:
            done(fd)
        case .timedOut:
            finish(
                fd,
                ControlRegistry.errorLine(
                    ControlError(.timeout, "No complete request arrived within \(timeoutSeconds) seconds.")
                )
            )
            done(fd)
        case .tooLarge:
            finish(
                fd,
                ControlRegistry.errorLine(
                    ControlError(.tooLarge, "The request exceeds the limit of \(maxRequestBytes) bytes.")
                )
            )
            done(fd)
        case .line(let bytes):
            let context = makeContext(peer)
            let registry = self.registry
            // The handler may wait (for the start gate, a store lock, the driver): this thread does not.
            Task { respond(fd, await registry.handle(bytes, context: context)) }
        }
    }

    /// Sends a handler's answer from a thread of its own: the peer may read it slowly.
    private func respond(_ fd: Int32, _ response: [UInt8]) {
        do {
            try DedicatedThread.start(name: "ipsecsvc-ctl-out") { [self] in
                finish(fd, response)
                done(fd)
            }
        } catch {
            done(fd)
        }
    }

    /// Sends `response`, then reads what the peer still sends (so that closing does not reset the
    /// connection before the peer has read the answer).
    private func finish(_ fd: Int32, _ response: [UInt8]) {
        try? UnixSocket.sendAll(fd, response)
        shutdown(fd, Int32(SHUT_WR))
        // Bounded in bytes here and in time by the socket's receive timeout.
        UnixSocket.drain(fd, limit: max(4 * maxRequestBytes, 1 << 20))
    }
}
