import IPsecSystem
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The agent's end of one connection to the driver process: requests with ids, their replies, notices.
///
/// Made by ``connect(_:role:)`` (blocking: call it off the cooperative pool); replies are delivered by
/// the connection's reader thread to the waiting tasks. When the connection ends every waiting request
/// fails with ``DriverLinkError`` and ``notices`` finishes.
final class DriverLinkClient: Sendable {
    private let connection: LinkConnection
    private let pending = Mutex<Pending>(Pending())
    let notices: AsyncStream<DriverNotice>
    private let noticeSink: AsyncStream<DriverNotice>.Continuation

    private struct Pending {
        var next: UInt32 = 1
        var waiting: [UInt32: CheckedContinuation<Result<DriverReply, DriverLinkError>, Never>] = [:]
        /// Why the connection ended, once it has.
        var ended: String?
    }

    private init(connection: LinkConnection) {
        self.connection = connection
        (notices, noticeSink) = AsyncStream<DriverNotice>.makeStream(bufferingPolicy: .bufferingNewest(64))
    }

    /// Connects to the driver socket at `path` and starts reading.
    /// - Throws: ``SystemError`` (`connect`: nothing listens) or the thread's creation error.
    static func connect(_ path: String) throws(SystemError) -> DriverLinkClient {
        let fd = try UnixSocket.connect(path)
        let peer: PeerCredentials
        do {
            peer = try PeerCredentials.of(socket: fd)
        } catch {
            Glibc.close(fd)
            throw error
        }
        let client = DriverLinkClient(connection: LinkConnection(fd: fd, peer: peer))
        try client.connection.start(
            receive: { [weak client] frame in client?.received(frame) },
            end: { [weak client] reason in client?.ended(reason) }
        )
        return client
    }

    /// The driver process's credentials (as the kernel recorded them when it listened).
    var peer: PeerCredentials { connection.peer }

    /// Whether the connection has ended.
    var isClosed: Bool { pending.withLock { $0.ended != nil } }

    /// Sends `request` (with `tail`, a table) and waits for its reply.
    /// - Throws: ``DriverLinkError`` when the connection ends first, or `timeout` passes (the connection is
    ///   then closed: a driver that does not answer in time is treated as gone).
    func request(
        _ request: DriverRequest,
        tail: [UInt8] = [],
        timeout: Duration
    ) async throws(DriverLinkError)
        -> DriverReply
    {
        let id: UInt32
        switch pending.withLock({ state -> Result<UInt32, DriverLinkError> in
            if let reason = state.ended { return .failure(DriverLinkError(reason)) }
            defer { state.next &+= 1 }
            return .success(state.next)
        }) {
        case .success(let value): id = value
        case .failure(let error): throw error
        }
        let frame: LinkFrame
        do {
            frame = try LinkFrame.make(.request, id: id, request, tail: tail)
        } catch {
            throw DriverLinkError("the request cannot be encoded: \(error)")
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled, let self else { return }
            if self.resolve(id, .failure(DriverLinkError("the driver did not answer within \(timeout)"))) {
                self.connection.close()
            }
        }
        defer { timer.cancel() }
        let connection = self.connection
        let result = await withCheckedContinuation { continuation in
            let ended = pending.withLock { state -> String? in
                if let reason = state.ended { return reason }
                state.waiting[id] = continuation
                return nil
            }
            if let ended {
                continuation.resume(returning: .failure(DriverLinkError(ended)))
                return
            }
            // Sent once the continuation is registered: the reply cannot overtake it.
            Task { [weak self] in
                do {
                    try await connection.send(frame)
                } catch let error as DriverLinkError {
                    _ = self?.resolve(id, .failure(error))
                } catch {
                    _ = self?.resolve(id, .failure(DriverLinkError("\(error)")))
                }
            }
        }
        return try result.get()
    }

    /// Ends the connection (waiting requests fail).
    func close() { connection.close() }

    /// Returns once the connection has ended.
    func closed() async { await connection.closed() }

    // MARK: - The reader thread

    private func received(_ frame: LinkFrame) {
        switch frame.kind {
        case .reply:
            let reply: Result<DriverReply, DriverLinkError>
            do {
                reply = .success(try frame.decode(DriverReply.self))
            } catch {
                reply = .failure(DriverLinkError("the driver's answer cannot be read: \(error)"))
            }
            _ = resolve(frame.id, reply)
        case .notice:
            if let notice = try? frame.decode(DriverNotice.self) { noticeSink.yield(notice) }
        case .request:
            break
        }
    }

    private func ended(_ reason: String) {
        let waiting = pending.withLock { state in
            state.ended = reason
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for continuation in waiting { continuation.resume(returning: .failure(DriverLinkError(reason))) }
        noticeSink.finish()
    }

    /// Completes request `id` if it still waits; whether it did.
    private func resolve(_ id: UInt32, _ result: Result<DriverReply, DriverLinkError>) -> Bool {
        guard let continuation = pending.withLock({ $0.waiting.removeValue(forKey: id) }) else { return false }
        continuation.resume(returning: result)
        return true
    }
}
