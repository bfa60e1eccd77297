import IPsecSystem
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The one thread of ``ControlServer``: accepts, authorizes, reads requests, sends answers, drains and
/// closes, for every connection at once with `poll`, all sockets non-blocking.
///
/// A connection goes through: accepted (peer checked; a refused or over-limit peer gets its answer at
/// once and is closed without a byte read) → reading (until a newline, the size limit or the deadline
/// counted from the accept) → handling (a `Task` runs the handler; the connection is not polled) →
/// writing the answer (with a deadline of its own) → draining what the peer still sends (bounded in
/// time and bytes, so that closing does not fail the peer's last send) → closed.
final class ControlConnectionLoop: Sendable {
    struct Limits: Sendable {
        /// From the accept until the whole request line has arrived; and again for sending the answer.
        var requestTimeout: Duration
        var maxRequestBytes: Int
        /// Connections open at once: all, those of users other than root, those of one such user.
        var total: Int
        var unprivileged: Int
        var perUser: Int
    }

    private let limits: Limits
    private let registry: ControlRegistry
    private let authorizer: PeerAuthorizer
    private let journal: any Journal
    private let makeContext: @Sendable (PeerCredentials) -> ControlContext
    private let refusals = RefusalLog()
    /// The wake-up pipe: handlers' answers and ``stop()`` interrupt the loop's `poll`.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let shared = Mutex(Shared())

    /// What handler tasks and the loop share.
    private struct Shared {
        /// Answers ready to send, by connection.
        var answers: [(fd: Int32, bytes: [UInt8])] = []
        /// Set once by the loop when it ends: later answers are sent by their tasks.
        var ended = false
        var stopping = false
    }

    init(
        limits: Limits,
        registry: ControlRegistry,
        authorizer: PeerAuthorizer,
        journal: any Journal,
        makeContext: @escaping @Sendable (PeerCredentials) -> ControlContext
    ) throws(SystemError) {
        self.limits = limits
        self.registry = registry
        self.authorizer = authorizer
        self.journal = journal
        self.makeContext = makeContext
        (wakeRead, wakeWrite) = try Descriptors.pipe(nonBlocking: true)
    }

    /// Asks the loop to end (seen at once).
    func stop() {
        shared.withLock { shared in
            shared.stopping = true
            poke(shared)
        }
    }

    /// Releases the wake-up pipe of a loop that never ran.
    func close() {
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    /// Writes one byte to the wake-up pipe; only under the lock and before the loop ended, so the pipe
    /// is never written after it was closed.
    private func poke(_ shared: borrowing Shared) {
        guard !shared.ended else { return }
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWrite, &byte, 1)
    }

    // MARK: - The loop

    /// One connection as the loop tracks it.
    private struct Connection {
        enum Phase {
            case reading
            case handling
            case writing
            case draining
        }

        let fd: Int32
        /// Who connected, as the kernel recorded it then.
        let peer: PeerCredentials
        var phase = Phase.reading
        /// The request read so far.
        var request: ControlRequestFramer
        /// The answer being sent.
        var bytes: [UInt8] = []
        var sent = 0
        var drained = 0
        /// Monotonic nanoseconds; unused while handling.
        var deadline: UInt64
    }

    /// Runs until ``stop()``; `listener` stays open (the server closes it).
    func run(listener: Int32) {
        var connections: [Int32: Connection] = [:]
        var acceptPausedUntil: UInt64 = 0
        while !shared.withLock({ $0.stopping }) {
            let now = SystemClock.monotonicNanoseconds()
            for (fd, bytes) in takeAnswers() {
                guard var connection = connections[fd] else { continue }
                startWriting(&connection, bytes, now: now)
                connections[fd] = connection
            }

            var descriptors = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let accepting = connections.count < limits.total && now >= acceptPausedUntil
            if accepting { descriptors.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }
            var polled: [Int32] = []
            var nextDeadline = now + 200_000_000
            for connection in connections.values where connection.phase != .handling {
                let events = connection.phase == .writing ? POLLOUT : POLLIN
                descriptors.append(pollfd(fd: connection.fd, events: Int16(events), revents: 0))
                polled.append(connection.fd)
                nextDeadline = min(nextDeadline, connection.deadline)
            }
            if !accepting { nextDeadline = min(nextDeadline, max(acceptPausedUntil, now + 1_000_000)) }
            let waitMilliseconds = Int32(clamping: (nextDeadline > now ? nextDeadline - now : 0) / 1_000_000 + 1)
            let ready = poll(&descriptors, nfds_t(descriptors.count), waitMilliseconds)
            if ready < 0 && Errno.current != .interrupted { continue }

            if descriptors[0].revents != 0 { emptyWakePipe() }
            var index = 1
            if accepting {
                if descriptors[1].revents != 0 {
                    acceptPausedUntil = acceptConnections(listener, into: &connections)
                }
                index = 2
            }
            for fd in polled {
                defer { index += 1 }
                guard descriptors[index].revents != 0, var connection = connections[fd] else { continue }
                let open = progress(&connection)
                connections[fd] = open ? connection : nil
            }
            expire(&connections, now: SystemClock.monotonicNanoseconds())
        }
        end(&connections)
    }

    /// The answers handlers delivered since the last call; `ending` marks the loop as ended in the same
    /// step, so that no answer can be queued after it looked.
    private func takeAnswers(ending: Bool = false) -> [(fd: Int32, bytes: [UInt8])] {
        shared.withLock { shared in
            if ending { shared.ended = true }
            defer { shared.answers.removeAll() }
            return shared.answers
        }
    }

    /// Accepts every pending connection (up to the limit); returns until when accepting pauses (after
    /// `EMFILE` and the like, so that a full descriptor table does not spin the loop).
    private func acceptConnections(_ listener: Int32, into connections: inout [Int32: Connection]) -> UInt64 {
        while connections.count < limits.total {
            let fd: Int32
            do {
                fd = try SocketAccept.connection(on: listener, nonBlocking: true)
            } catch {
                if error.errno == .interrupted { continue }
                if error.errno == .wouldBlock { return 0 }
                return SystemClock.monotonicNanoseconds() + 100_000_000
            }
            admit(fd, into: &connections)
        }
        return 0
    }

    /// Checks a new connection's peer and limits before anything is read from it.
    private func admit(_ fd: Int32, into connections: inout [Int32: Connection]) {
        guard let peer = try? PeerCredentials.of(socket: fd) else {
            Glibc.close(fd)
            return
        }
        guard authorizer.isAuthorized(peer) else {
            refusals.record(peer, group: authorizer.groupName, journal: journal)
            refuse(fd, ControlError.accessDenied(group: authorizer.groupName))
            return
        }
        if peer.uid != 0 {
            let unprivileged = connections.values.filter { $0.peer.uid != 0 }
            if unprivileged.count >= limits.unprivileged
                || unprivileged.count(where: { $0.peer.uid == peer.uid }) >= limits.perUser
            {
                refuse(fd, ControlError(.busy, "Too many connections of this user at once; try again."))
                return
            }
        }
        let deadline = SystemClock.monotonicNanoseconds() + Self.nanoseconds(limits.requestTimeout)
        var connection = Connection(
            fd: fd,
            peer: peer,
            request: ControlRequestFramer(limit: limits.maxRequestBytes),
            deadline: deadline
        )
        // The request is usually there already: read it now rather than after another poll.
        let open = readRequest(&connection)
        if open { connections[fd] = connection }
    }

    /// Answers a connection that is not served (a fresh socket's buffer takes the short line at once)
    /// and closes it without reading.
    private func refuse(_ fd: Int32, _ error: ControlError) {
        Self.sendOnce(fd, ControlRegistry.errorLine(error))
        Glibc.close(fd)
    }

    /// Moves a connection on after `poll` said it is ready; false once it is closed.
    private func progress(_ connection: inout Connection) -> Bool {
        switch connection.phase {
        case .reading: return readRequest(&connection)
        case .writing: return sendAnswer(&connection)
        case .draining: return drainPeer(&connection)
        case .handling: return true
        }
    }

    /// Reads what has arrived; on a whole line hands it to a handler task.
    private func readRequest(_ connection: inout Connection) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes {
                recv(connection.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
            }
            if count < 0 {
                let code = Errno.current
                if code == .interrupted { continue }
                if code == .wouldBlock { return true }
                return closed(connection)
            }
            // End of stream: the peer closed its side, and what it sent is the request.
            let outcome = count == 0 ? connection.request.end() : connection.request.append(chunk[0..<count])
            switch outcome {
            case .line(let line): return handle(&connection, line)
            case .tooLarge: return tooLarge(&connection)
            case .needMore where count == 0: return closed(connection)
            case .needMore: continue
            }
        }
    }

    private func tooLarge(_ connection: inout Connection) -> Bool {
        let error = ControlError(.tooLarge, "The request exceeds the limit of \(limits.maxRequestBytes) bytes.")
        startWriting(&connection, ControlRegistry.errorLine(error), now: SystemClock.monotonicNanoseconds())
        return sendAnswer(&connection)
    }

    private func handle(_ connection: inout Connection, _ request: [UInt8]) -> Bool {
        connection.phase = .handling
        let fd = connection.fd
        let context = makeContext(connection.peer)
        let registry = registry
        // The handler may wait (for the start gate, a store lock, the driver): the loop does not.
        Task { deliver(fd, await registry.handle(request, context: context)) }
        return true
    }

    /// A handler's answer: to the loop, or, once the loop has ended, sent from here as far as the
    /// socket takes it without waiting.
    private func deliver(_ fd: Int32, _ answer: [UInt8]) {
        let queued = shared.withLock { shared -> Bool in
            guard !shared.ended else { return false }
            shared.answers.append((fd, answer))
            poke(shared)
            return true
        }
        if !queued {
            Self.sendOnce(fd, answer)
            Glibc.close(fd)
        }
    }

    private func startWriting(_ connection: inout Connection, _ answer: [UInt8], now: UInt64) {
        connection.phase = .writing
        connection.bytes = answer
        connection.sent = 0
        connection.deadline = now + Self.nanoseconds(limits.requestTimeout)
    }

    private func sendAnswer(_ connection: inout Connection) -> Bool {
        while connection.sent < connection.bytes.count {
            let sent = connection.bytes.withUnsafeBytes { raw in
                send(
                    connection.fd,
                    raw.baseAddress! + connection.sent,
                    raw.count - connection.sent,
                    Int32(MSG_NOSIGNAL | MSG_DONTWAIT)
                )
            }
            if sent < 0 {
                let code = Errno.current
                if code == .interrupted { continue }
                if code == .wouldBlock { return true }
                return closed(connection)
            }
            connection.sent += sent
        }
        shutdown(connection.fd, Int32(SHUT_WR))
        connection.phase = .draining
        connection.bytes = []
        connection.deadline = SystemClock.monotonicNanoseconds() + Self.drainTime
        return drainPeer(&connection)
    }

    /// Reads and drops what the peer still sends (a request larger than the limit, say), bounded in
    /// bytes and time, so that closing does not fail the peer's last send before it read the answer.
    private func drainPeer(_ connection: inout Connection) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while connection.drained < Self.drainLimit(limits) {
            let count = chunk.withUnsafeMutableBytes {
                recv(connection.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
            }
            if count < 0 && Errno.current == .interrupted { continue }
            if count < 0 && Errno.current == .wouldBlock { return true }
            if count <= 0 { break }
            connection.drained += count
        }
        return closed(connection)
    }

    /// Ends connections whose deadline passed: a request still incomplete gets the `timeout` answer.
    private func expire(_ connections: inout [Int32: Connection], now: UInt64) {
        for var connection in connections.values where connection.phase != .handling && connection.deadline <= now {
            switch connection.phase {
            case .reading:
                let seconds = limits.requestTimeout.components.seconds
                let error = ControlError(.timeout, "No complete request arrived within \(seconds) seconds.")
                startWriting(&connection, ControlRegistry.errorLine(error), now: now)
                connections[connection.fd] = sendAnswer(&connection) ? connection : nil
            case .writing, .draining, .handling:
                connections[connection.fd] = closed(connection) ? connection : nil
            }
        }
    }

    /// The loop ends: answers already queued are sent as far as the sockets take them; connections
    /// whose handler still runs are left to their task.
    private func end(_ connections: inout [Int32: Connection]) {
        let pending = takeAnswers(ending: true)
        for (fd, answer) in pending {
            Self.sendOnce(fd, answer)
            connections[fd] = nil
            Glibc.close(fd)
        }
        for connection in connections.values where connection.phase != .handling { Glibc.close(connection.fd) }
        connections.removeAll()
        close()
    }

    private func closed(_ connection: Connection) -> Bool {
        Glibc.close(connection.fd)
        return false
    }

    private func emptyWakePipe() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while buffer.withUnsafeMutableBytes({ Glibc.read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
    }

    /// One non-blocking send of `bytes` (no SIGPIPE); what the socket does not take is lost.
    private static func sendOnce(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
    }

    /// How long a connection may go on sending after its answer.
    private static let drainTime: UInt64 = 1_000_000_000

    private static func drainLimit(_ limits: Limits) -> Int { max(4 * limits.maxRequestBytes, 1 << 20) }

    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}

extension ControlError {
    /// The answer to a peer that is neither root nor in the admin group.
    static func accessDenied(group: String) -> ControlError {
        ControlError(
            .accessDenied,
            "Access is denied: only root and members of the '\(group)' group may control the IPsec Services service.",
            windowsError: WindowsError.accessDenied.code
        )
    }
}

/// Journals refused peers, at most a few a second, so that a local user who connects in a loop cannot
/// flood the journal; the next entry says how many were left out.
final class RefusalLog: Sendable {
    private let state = Mutex<(second: UInt64, count: Int, suppressed: Int)>((0, 0, 0))
    private static let perSecond = 5

    func record(_ peer: PeerCredentials, group: String, journal: any Journal) {
        let second = SystemClock.monotonicNanoseconds() / 1_000_000_000
        let suppressed = state.withLock { state -> Int? in
            if state.second != second { state = (second, 0, state.suppressed) }
            state.count += 1
            guard state.count <= Self.perSecond else {
                state.suppressed += 1
                return nil
            }
            defer { state.suppressed = 0 }
            return state.suppressed
        }
        guard let suppressed else { return }
        let more = suppressed > 0 ? " (\(suppressed) more refusals were not journaled)" : ""
        journal.record(
            JournalEntry(
                .accessRefused,
                priority: .warning,
                "Access to the IPSec Services control socket was refused to \(peer.withUserName): only root and members of '\(group)' may use it.\(more)",
                fields: [
                    "IPSECSVC_PEER_UID": String(peer.uid), "IPSECSVC_PEER_PID": String(peer.pid),
                    "IPSECSVC_PEER_GID": String(peer.gid),
                ]
            )
        )
    }
}
