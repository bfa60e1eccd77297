public import IPsecSystem

#if canImport(Glibc)
import Glibc
#endif

/// The control socket server: a listening Unix stream socket whose connections are all served by one
/// dedicated thread that polls them, so that no socket call ever blocks the cooperative pool and no
/// client can hold a thread. Each connection carries one request line and gets one response line.
///
/// What a client cannot do (docs/control-protocol.md, "Guarantees"):
/// - be served or even read without being root or in the admin group: the peer's credentials and
///   groups, as the kernel recorded them at `connect`, are checked when the connection is accepted,
///   and a refused peer gets its answer before the service reads a byte;
/// - keep a connection longer than `request_timeout` without sending a whole request: the deadline is
///   counted from the accept, not from the last byte;
/// - hold more than ``maxConnectionsPerUser`` connections as one user other than root, or more than
///   ``maxUnprivilegedConnections`` together with the other users; root is limited only by
///   ``maxConnections``, so a crowd of other users never locks root out.
///
/// Threads (DESIGN.md §7): the loop owns a ``DedicatedThread`` for the server's life; a complete
/// request goes to a `Task` that runs the handler, whose answer comes back to the loop through a
/// queue and a wake-up pipe. The loop never waits for a task.
public final class ControlServer: Sendable {
    /// The most connections open at once, root's included.
    public static let maxConnections = 256
    /// The most connections of users other than root open at once.
    public static let maxUnprivilegedConnections = 64
    /// The most connections of one user other than root open at once.
    public static let maxConnectionsPerUser = 16

    public let path: String
    private let listener: Int32
    private let loop: ControlConnectionLoop
    /// Ends when the loop's thread has closed and removed the socket.
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
        let authorizer = PeerAuthorizer(groupName: configuration.adminGroup)

        try FileSystem.makeDirectories(FileSystem.directory(of: path), mode: 0o755)
        if FileSystem.exists(path) {
            if try ControlClient(socketPath: path).isListening() { throw WindowsError.alreadyRunning }
            unlink(path)  // stale socket of a crashed process
        }
        // Non-blocking: the loop accepts until EAGAIN, and a client that gave up between poll and
        // accept must not leave the loop waiting.
        let fd = try UnixSocket.make(nonBlocking: true)
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
        self.loop = try ControlConnectionLoop(
            limits: ControlConnectionLoop.Limits(
                requestTimeout: .seconds(configuration.requestTimeoutSeconds),
                maxRequestBytes: configuration.maxRequestBytes,
                total: Self.maxConnections,
                unprivileged: Self.maxUnprivilegedConnections,
                perUser: Self.maxConnectionsPerUser
            ),
            registry: registry,
            authorizer: authorizer,
            journal: journal,
            makeContext: makeContext
        )
    }

    /// Starts the loop's thread.
    /// - Throws: ``SystemError`` when no thread can be created (the socket is then closed and removed).
    public func start() throws(SystemError) {
        do {
            try DedicatedThread.start(name: "ipsecsvc-control") { [self] in
                loop.run(listener: listener)
                closeListener()
            }
        } catch {
            closeListener()
            loop.close()
            throw error
        }
    }

    /// Stops accepting, closes and removes the socket; returns when the loop's thread has ended, seen
    /// within 200 ms. Answers of handlers still running are sent when they are ready.
    public func stop() async {
        loop.stop()
        await finished.wait()
    }

    private func closeListener() {
        close(listener)
        unlink(path)
        finished.finish()
    }
}
