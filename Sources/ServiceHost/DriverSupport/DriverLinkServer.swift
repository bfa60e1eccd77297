import Driver
import FoundationEssentials
import IPsecSystem
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The driver process's end of the driver socket: listens on a Unix socket of mode 0600, accepts
/// connections from root and its own user only (`SO_PEERCRED`), and answers each request with what
/// `handle` returns.
///
/// Threads (DESIGN.md §7): the accept loop owns a ``DedicatedThread`` (`ipsecsvc-drvacc`, a 200 ms poll
/// to notice ``stop()``); each connection has its reader (``LinkConnection``); each request runs in a
/// task, so that a `status` is answered while a table is being applied.
final class DriverLinkServer: Sendable {
    typealias Handler = @Sendable (DriverRequest, [UInt8], PeerCredentials) async -> DriverReply

    let path: String
    private let listener: Int32
    private let handle: Handler
    private let journal: any Journal
    private let stopping = Atomic<Bool>(false)
    private let finished = LoopEnd()
    private let connections = Mutex<[ObjectIdentifier: LinkConnection]>([:])

    /// Binds and listens on `path` (a stale socket of a dead driver is replaced).
    /// - Throws: ``SystemError`` of the failing call; ``DriverError`` (another instance) when a driver
    ///   answers on `path`.
    init(path: String, journal: any Journal, handle: @escaping Handler) throws {
        self.path = path
        self.handle = handle
        self.journal = journal
        try FileSystem.makeDirectories(FileSystem.directory(of: path), mode: 0o755)
        if FileSystem.exists(path) {
            if let other = try? UnixSocket.connect(path) {
                let holder = (try? PeerCredentials.of(socket: other)).map { " (pid \($0.pid))" } ?? ""
                close(other)
                throw DriverError(.anotherInstance, "another ipsecsvc driver answers on \(path)\(holder)")
            }
            unlink(path)
        }
        let fd = try UnixSocket.make()
        do {
            // The socket reaches `path` only once its mode is 0600.
            try UnixSocket.bindAndListen(fd, at: path, backlog: 16) { staged in
                try SystemCall.check("chmod", path: path) { chmod(staged, 0o600) }
            }
        } catch {
            close(fd)
            throw error
        }
        listener = fd
    }

    /// Starts accepting.
    func start() throws(SystemError) {
        do {
            try DedicatedThread.start(name: "ipsecsvc-drvacc") { [self] in acceptLoop() }
        } catch {
            close(listener)
            unlink(path)
            throw error
        }
    }

    /// Stops accepting, removes the socket and ends every connection.
    func stop() async {
        stopping.store(true, ordering: .releasing)
        await finished.wait()
        let open = connections.withLock { Array($0.values) }
        for connection in open { connection.close() }
        for connection in open { await connection.closed() }
    }

    /// Sends `notice` to every connected agent (best effort).
    func broadcast(_ notice: DriverNotice) async {
        guard let frame = try? LinkFrame.make(.notice, id: 0, notice) else { return }
        for connection in connections.withLock({ Array($0.values) }) {
            try? await connection.send(frame)
        }
    }

    private func acceptLoop() {
        defer {
            close(listener)
            unlink(path)
            finished.finish()
        }
        let me = geteuid()
        while !stopping.load(ordering: .acquiring) {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 200) > 0 else { continue }
            guard let fd = try? SocketAccept.connection(on: listener) else { continue }
            guard let peer = try? PeerCredentials.of(socket: fd), peer.uid == 0 || peer.uid == me else {
                let who = (try? PeerCredentials.of(socket: fd)).map { "\($0)" } ?? "an unknown peer"
                journal.record(
                    JournalEntry(
                        .accessRefused,
                        priority: .warning,
                        "The IPSec driver refused a connection on \(path) from \(who): only root may use it."
                    )
                )
                close(fd)
                continue
            }
            serve(LinkConnection(fd: fd, peer: peer))
        }
    }

    private func serve(_ connection: LinkConnection) {
        let key = ObjectIdentifier(connection)
        connections.withLock { $0[key] = connection }
        let handle = self.handle
        do {
            try connection.start(
                receive: { frame in
                    guard frame.kind == .request else { return }
                    Task {
                        let reply: DriverReply
                        do {
                            reply = await handle(try frame.decode(DriverRequest.self), frame.tail, connection.peer)
                        } catch {
                            reply = .failed(DriverError(.failed, "the request cannot be read: \(error)"))
                        }
                        guard let answer = try? LinkFrame.make(.reply, id: frame.id, reply) else { return }
                        try? await connection.send(answer)
                    }
                },
                end: { [weak self] _ in
                    _ = self?.connections.withLock { $0.removeValue(forKey: key) }
                }
            )
        } catch {
            _ = connections.withLock { $0.removeValue(forKey: key) }
        }
    }
}
