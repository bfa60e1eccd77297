import FoundationEssentials
import IPsecSystem

#if canImport(Glibc)
import Glibc
#endif

/// The CLI side of the control socket. Calls are synchronous (the CLI has nothing else to do).
public struct ControlClient: Sendable {
    public var socketPath: String
    public var timeoutSeconds: Int

    public init(socketPath: String, timeoutSeconds: Int = 30) {
        self.socketPath = socketPath
        self.timeoutSeconds = timeoutSeconds
    }

    public init(configuration: ServiceConfiguration) {
        self.init(socketPath: configuration.socketPath)
    }

    /// Whether a service accepts connections on the socket: `false` only when none runs.
    /// - Throws: ``ControlError`` `access-denied` when this user may not connect, `transport` when the
    ///   socket cannot be used: a command must then fail, not act as if the service were stopped.
    public func isListening() throws(ControlError) -> Bool {
        let fd: Int32
        do {
            fd = try connect()
        } catch  where error.code == .notRunning {
            return false
        }
        close(fd)
        return true
    }

    /// Sends `request` as `command` and decodes the answer.
    /// - Throws: ``ControlError``: `service-not-running` when nothing listens on the socket, the
    ///   service's error answer, or `transport` for I/O failures.
    public func send<C: ControlCommand>(_ command: C.Type, _ request: C.Request) throws(ControlError) -> C.Response {
        let line = encodeLine(ControlRequest(command: C.name, body: request))
        let answer = try exchange(line)
        let envelope: ControlResponse<C.Response>
        do {
            envelope = try JSONDecoder().decode(ControlResponse<C.Response>.self, from: Data(answer))
        } catch {
            if let failure = try? JSONDecoder().decode(ControlResponse<ControlEmpty>.self, from: Data(answer)),
                let error = failure.error
            {
                throw error
            }
            throw ControlError(.transport, "The service sent an answer that cannot be read: \(error)")
        }
        if let error = envelope.error { throw error }
        guard envelope.ok, let body = envelope.body else {
            throw ControlError(.transport, "The service sent an empty answer.")
        }
        return body
    }

    /// Sends `command` with an empty body.
    public func send<C: ControlCommand>(_ command: C.Type) throws(ControlError) -> C.Response
    where C.Request == ControlEmpty {
        try send(command, ControlEmpty())
    }

    /// ``send(_:_:)`` from async code, on a thread of its own: the exchange waits for the service, which
    /// may be in this very process and need the ``BlockingPool`` to answer (tests run it so), so it must
    /// not hold a pool thread while it waits.
    public func request<C: ControlCommand>(_ command: C.Type, _ request: C.Request) async throws -> C.Response {
        let client = self
        return try await DedicatedThread.run(name: "ipsecsvc-ctl-cli") { () -> Result<C.Response, ControlError> in
            Result { () throws(ControlError) in try client.send(command, request) }
        }.get()
    }

    /// Sends raw bytes and returns the raw answer line (for tests of malformed input).
    public func exchange(_ bytes: [UInt8]) throws(ControlError) -> [UInt8] {
        let fd = try connect()
        defer { close(fd) }
        UnixSocket.setTimeouts(fd, seconds: timeoutSeconds)
        // A failed send (the service refused early) still leaves its answer to read.
        let sendError: SystemError?
        do {
            try UnixSocket.sendAll(fd, bytes)
            sendError = nil
        } catch {
            sendError = error
        }
        shutdown(fd, Int32(SHUT_WR))
        switch UnixSocket.readLine(fd, limit: 64 << 20) {
        case .line(let answer): return answer
        case .timedOut:
            throw ControlError(.transport, "The service did not answer within \(timeoutSeconds) seconds.")
        case .tooLarge: throw ControlError(.transport, "The service's answer is too large.")
        case .closed:
            throw ControlError(
                .transport,
                "The service closed the connection without an answer\(sendError.map { " (\($0))" } ?? "")."
            )
        }
    }

    private func connect() throws(ControlError) -> Int32 {
        let fd: Int32
        do {
            fd = try UnixSocket.make()
        } catch {
            throw ControlError(.transport, "\(error)")
        }
        let result: Int32
        do {
            result = try UnixSocket.withAddress(socketPath) { address, length in Glibc.connect(fd, address, length) }
        } catch {
            close(fd)
            throw ControlError(.transport, "\(error)")
        }
        if result == 0 { return fd }
        let code = Errno.current
        close(fd)
        switch code.rawValue {
        case ENOENT, ECONNREFUSED, ENOTDIR:
            throw ControlError(
                .notRunning,
                "The IPsec Services service is not running (nothing listens on \(socketPath))."
            )
        case EACCES, EPERM:
            throw ControlError(
                .accessDenied,
                "Access is denied to \(socketPath): only root and members of the ipsecadm group may control the IPsec Services service.",
                windowsError: WindowsError.accessDenied.code
            )
        default:
            throw ControlError(.transport, "\(SystemError("connect", path: socketPath, errno: code))")
        }
    }
}

extension ControlClient {
    /// A store command that works with the service running or stopped (DESIGN.md §5): sends `request`
    /// to the service; when nothing listens on the socket, runs `offline` on the state directory
    /// instead, holding ``StateDirectoryLock`` so that it never interleaves with another writer.
    ///
    /// - Parameters:
    ///   - stateDirectory: the state directory `offline` works on.
    ///   - offline: the same command done directly on the stores (the service is not running, so
    ///     changes apply at its next start).
    public func sendOrWorkOffline<C: ControlCommand>(
        _ command: C.Type,
        _ request: C.Request,
        stateDirectory: String,
        offline: () throws -> C.Response
    ) throws -> C.Response {
        let answer = Result { () throws(ControlError) in try send(command, request) }
        if case .failure(let error) = answer, error.code == .notRunning {
            return try StateDirectoryLock.withLock(stateDirectory, offline)
        }
        return try answer.get()
    }
}
