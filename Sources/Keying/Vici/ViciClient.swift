/// What a vici subscription reports.
public enum ViciSubscriptionEvent: Sendable, Hashable {
    /// Connected and registered for every requested event (after a start or a charon restart).
    case connected
    /// A registered event.
    case event(String, ViciMessage)
    /// The connection ended or could not be made; the subscription retries.
    case disconnected(ViciError)
}

/// A client of charon's vici interface over its Unix socket.
///
/// Commands run on a small pool of connections, one command at a time on each (vici has no
/// sequence numbers); a long command (`initiate` with a timeout) therefore does not hold up the
/// others. Every call has a timeout. A connection that timed out, broke or was closed by charon is
/// dropped; the next call connects again, so the client follows a restarted charon by itself.
/// Events are delivered by ``receive(_:retryInterval:_:)`` on a connection of their own, which
/// re-registers after every reconnect.
///
/// Callers: the keying engine, from any task. Nothing here blocks a thread of the cooperative pool.
public actor ViciClient {
    public nonisolated let socketPath: String
    /// The timeout of a call that names none.
    public nonisolated let defaultTimeout: Duration
    private let maximumConnections: Int
    private var idle: [ViciConnection] = []
    private var busy = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// - Parameters:
    ///   - socketPath: charon's vici socket (`/run/charon.vici` by default on Debian).
    ///   - defaultTimeout: the timeout of calls that give none.
    ///   - maximumConnections: how many commands may run at once.
    public init(socketPath: String, defaultTimeout: Duration = .seconds(10), maximumConnections: Int = 4) {
        self.socketPath = socketPath
        self.defaultTimeout = defaultTimeout
        self.maximumConnections = max(1, maximumConnections)
    }

    /// Runs `command` and returns its response message, whatever its `success` says.
    /// - Throws: ``ViciError`` when no response came (charon down, timeout, unknown command).
    public func call(
        _ command: String,
        _ arguments: ViciMessage = ViciMessage(),
        timeout: Duration? = nil
    ) async throws(ViciError) -> ViciMessage {
        try await run(command, arguments, stream: nil, timeout: timeout ?? defaultTimeout).response
    }

    /// Runs `command` and returns its response when it reports `success = yes`.
    /// - Throws: ``ViciError/commandFailed(command:message:)`` for `success = no`, or why no
    ///   response came.
    @discardableResult
    public func checkedCall(
        _ command: String,
        _ arguments: ViciMessage = ViciMessage(),
        timeout: Duration? = nil
    ) async throws(ViciError) -> ViciMessage {
        let response = try await call(command, arguments, timeout: timeout)
        guard response.succeeded else {
            throw .commandFailed(command: command, message: response.errorMessage ?? "no reason given")
        }
        return response
    }

    /// Runs a streaming command (`list-sas`, `list-conns`, ...): registers `event`, runs the command,
    /// unregisters, and returns the streamed messages in order with the final response.
    public func stream(
        _ command: String,
        _ arguments: ViciMessage = ViciMessage(),
        event: String,
        timeout: Duration? = nil
    ) async throws(ViciError) -> (items: [ViciMessage], response: ViciMessage) {
        let result = try await run(command, arguments, stream: event, timeout: timeout ?? defaultTimeout)
        return (result.streamed, result.response)
    }

    /// Closes every idle connection (the service stops).
    public func closeIdleConnections() async {
        let connections = idle
        idle = []
        for connection in connections { await connection.close() }
    }

    // MARK: - Subscription

    /// Registers for `events` on a connection of its own and hands each to `handle`, in order; reconnects
    /// (and says so) when charon goes away, every `retryInterval`, until the calling task is cancelled —
    /// its consumer runs it as a child of its own work (``KeyingEngine/run()``), so nothing of it outlives
    /// that. Returns after handing `.disconnected(.unknownEvent)` when charon does not know an event.
    public nonisolated func receive(
        _ events: [String],
        retryInterval: Duration = .seconds(1),
        _ handle: @Sendable (ViciSubscriptionEvent) async -> Void
    ) async {
        let path = socketPath
        let timeout = defaultTimeout
        var lastError: ViciError?
        while !Task.isCancelled {
            var current: ViciConnection?
            do throws(ViciError) {
                let connection = try ViciConnection(path: path)
                current = connection
                for name in events {
                    let reply = try await connection.exchange(.register(name), label: name, timeout: timeout)
                    if reply.packet == .unknownEvent { throw .unknownEvent(name) }
                }
                lastError = nil
                await handle(.connected)
                for await event in connection.events {
                    await handle(.event(event.name, event.message))
                }
                await connection.close()
                guard !Task.isCancelled else { return }
                throw connection.endReason ?? .disconnected
            } catch {
                if let current { await current.close() }
                guard !Task.isCancelled else { return }
                // Report a loss once, not every retry while charon stays down.
                if lastError != error || error == .disconnected { await handle(.disconnected(error)) }
                lastError = error
                if case .unknownEvent = error { return }
            }
            try? await Task.sleep(for: retryInterval)
        }
    }

    // MARK: - Internals

    private func run(
        _ command: String,
        _ arguments: ViciMessage,
        stream: String?,
        timeout: Duration
    ) async throws(ViciError) -> (response: ViciMessage, streamed: [ViciMessage]) {
        let connection = try await acquire()
        var healthy = false
        defer { release(connection, healthy: healthy) }
        if let stream {
            let registered = try await connection.exchange(.register(stream), label: stream, timeout: timeout)
            guard registered.packet == .confirm else { throw .unknownEvent(stream) }
        }
        let reply = try await connection.exchange(
            .request(command, arguments),
            label: command,
            stream: stream,
            timeout: timeout
        )
        if let stream {
            _ = try await connection.exchange(.unregister(stream), label: stream, timeout: timeout)
        }
        healthy = true
        switch reply.packet {
        case .response(let message): return (message, reply.streamed)
        case .unknownCommand: throw .unknownCommand(command)
        default: throw .protocolViolation("'\(command)' was answered with \(reply.packet)")
        }
    }

    /// An idle connection, a new one while fewer than the maximum exist, or the next one released.
    private func acquire() async throws(ViciError) -> ViciConnection {
        while true {
            while let connection = idle.popLast() {
                if connection.endReason == nil {
                    busy += 1
                    return connection
                }
                Task { await connection.close() }
            }
            if busy < maximumConnections {
                busy += 1
                do {
                    return try ViciConnection(path: socketPath)
                } catch {
                    busy -= 1
                    wakeNext()
                    throw error
                }
            }
            await withCheckedContinuation { waiting.append($0) }
        }
    }

    private func release(_ connection: ViciConnection, healthy: Bool) {
        busy -= 1
        if healthy && connection.endReason == nil {
            idle.append(connection)
        } else {
            Task { await connection.close() }
        }
        wakeNext()
    }

    private func wakeNext() {
        if !waiting.isEmpty { waiting.removeFirst().resume() }
    }
}
