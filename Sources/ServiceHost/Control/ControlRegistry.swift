import Driver
import FoundationEssentials
public import IPsecSystem
import Keying
import Netsh
import PolicyFormats
import PolicyModel
import Providers

/// What a handler knows about the request it serves.
public struct ControlContext: Sendable {
    /// Who is asking (already authorized).
    public var peer: PeerCredentials
    public var configuration: ServiceConfiguration
    public var agent: PolicyAgent
    /// Asks the service to stop gracefully (returns at once).
    public var requestStop: @Sendable () -> Void
    /// When set, commands other than ``ControlRegistry/availableWhileStarting`` wait until it is
    /// released (the service's start has completed), so a store command sent while the service is
    /// START_PENDING is served once it runs instead of racing the start.
    public var startGate: StartGate?

    public init(
        peer: PeerCredentials,
        configuration: ServiceConfiguration,
        agent: PolicyAgent,
        requestStop: @escaping @Sendable () -> Void,
        startGate: StartGate? = nil
    ) {
        self.peer = peer
        self.configuration = configuration
        self.agent = agent
        self.requestStop = requestStop
        self.startGate = startGate
    }
}

/// The handlers of the control socket, by command name. Build it before the server starts (it is a
/// value); other modules add their commands with ``register(_:handler:)``.
public struct ControlRegistry: Sendable {
    /// One registered command: how its request line is decoded, and how a decoded request is served.
    private struct Entry: Sendable {
        var decode: @Sendable ([UInt8]) throws(ControlError) -> any Sendable
        var serve: @Sendable (any Sendable, ControlContext) async -> [UInt8]
    }

    private var entries: [String: Entry] = [:]

    public init() {}

    /// Registers `handler` for `command`. A handler throws ``ControlError`` (or ``WindowsError``) to
    /// answer with an error; any other error becomes ``ControlError/Code/failed`` with its description.
    public mutating func register<C: ControlCommand>(
        _ command: C.Type,
        handler: @escaping @Sendable (C.Request, ControlContext) async throws -> C.Response
    ) {
        entries[C.name] = Entry(
            decode: { bytes throws(ControlError) in
                do {
                    let envelope = try JSONDecoder().decode(ControlRequest<C.Request>.self, from: Data(bytes))
                    if let body = envelope.body { return body }
                    return try JSONDecoder().decode(C.Request.self, from: Data("{}".utf8))
                } catch {
                    throw ControlError(.invalidArguments, "The request body does not fit '\(C.name)': \(error)")
                }
            },
            serve: { request, context in
                do {
                    // `decode` made it: the cast cannot fail.
                    return encodeLine(ControlResponse(body: try await handler(request as! C.Request, context)))
                } catch let error as ControlError {
                    return encodeLine(ControlResponse<ControlEmpty>(error: error))
                } catch let error as WindowsError {
                    return encodeLine(ControlResponse<ControlEmpty>(error: ControlError(error)))
                } catch {
                    return encodeLine(ControlResponse<ControlEmpty>(error: ControlError(.failed, "\(error)")))
                }
            }
        )
    }

    /// A request line as the server read it, before any handler ran.
    public struct DecodedRequest: Sendable {
        /// The registered command it names.
        public var command: String
        /// Its typed request body.
        public var body: any Sendable
    }

    /// Decodes one request line as the server does — the JSON envelope, the protocol version, the
    /// command, its typed body — without running anything: the one decoder of the protocol (the fuzz
    /// target `control` runs it on hostile input, Fuzz/README.md).
    /// - Returns: the request, or the error the client is answered with.
    public func decode(_ line: [UInt8]) -> Result<DecodedRequest, ControlError> {
        struct Header: Decodable {
            var version: Int
            var command: String
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(line))
        } catch {
            return .failure(ControlError(.malformed, "The request is not a JSON object with 'version' and 'command'."))
        }
        guard header.version == controlProtocolVersion else {
            return .failure(
                ControlError(
                    .unsupportedVersion,
                    "Protocol version \(header.version) is not supported; this service speaks version \(controlProtocolVersion)."
                )
            )
        }
        guard let entry = entries[header.command] else {
            return .failure(ControlError(.unknownCommand, "Unknown command '\(header.command.terminalEscaped())'."))
        }
        return Result { () throws(ControlError) in
            DecodedRequest(command: header.command, body: try entry.decode(line))
        }
    }

    /// Answers one request line.
    func handle(_ bytes: [UInt8], context: ControlContext) async -> [UInt8] {
        let request: DecodedRequest
        switch decode(bytes) {
        case .success(let decoded): request = decoded
        case .failure(let error): return Self.errorLine(error)
        }
        if let gate = context.startGate, !Self.availableWhileStarting.contains(request.command) {
            await gate.wait()
        }
        return await entries[request.command]!.serve(request.body, context)
    }

    /// Commands answered at once even while the service is START_PENDING.
    public static let availableWhileStarting: Set<String> = [PingCommand.name, StatusCommand.name, StopCommand.name]

    static func errorLine(_ error: ControlError) -> [UInt8] {
        encodeLine(ControlResponse<ControlEmpty>(error: error))
    }

    /// The service host's own commands: ping, status, stop, refresh, config.get, config.set,
    /// netsh.dynamic.run and netsh.dynamic.stats, and the policy sources' (``registerPolicySources()``).
    public static func standard() -> ControlRegistry {
        var registry = ControlRegistry()
        registry.registerPolicySources()
        registry.register(PingCommand.self) { _, _ in
            PingCommand.Response(pid: CurrentProcess.pid, version: controlProtocolVersion)
        }
        registry.register(StatusCommand.self) { _, context in
            await context.agent.status(pid: CurrentProcess.pid)
        }
        registry.register(StopCommand.self) { _, context in
            var report = await context.agent.status(pid: CurrentProcess.pid)
            // A start that waits (for a hung directory_check, say) is cancelled, as SIGTERM cancels it.
            guard report.state == .running || report.state == .startPending else {
                throw WindowsError.cannotAcceptControl
            }
            context.requestStop()
            report.state = .stopPending
            return report
        }
        registry.register(RefreshCommand.self) { _, context in
            await context.agent.refresh()
            return await context.agent.status(pid: CurrentProcess.pid)
        }
        registry.registerNetshDynamic()
        registry.registerKeying()
        registry.register(GetDynamicConfigCommand.self) { _, context in
            // The file is the one copy of the settings: read it, not a cache.
            let store = ServiceStateStore(directory: context.configuration.stateDirectory)
            return try await BlockingPool.shared.run { try store.lockedDynamicSettings() }
        }
        registry.register(SetDynamicConfigCommand.self) { request, context in
            // `netsh ipsec dynamic set config` itself: the same parser, the same transaction.
            let store = ServiceStateStore(directory: context.configuration.stateDirectory)
            let command = NetshDynamicCommand(
                name: "set config",
                arguments: [
                    NetshToken(tag: "property", value: request.property),
                    NetshToken(tag: "value", value: request.value),
                ]
            )
            do {
                _ = try await context.agent.runNetshDynamic([command], dryRun: false, store: store)
            } catch let failure as NetshDynamicFailure {
                throw ControlError(.invalidArguments, failure.message)
            }
            return try await BlockingPool.shared.run { try store.lockedDynamicSettings() }
        }
        return registry
    }
}

/// Opens once the service's start has completed (successfully or not); until then it holds the
/// control commands that need a started service.
public actor StartGate {
    private var released = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init() {}

    /// Returns once ``release()`` has been called.
    public func wait() async {
        if released { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    /// How many commands wait for the start now.
    public var heldCommands: Int { waiters.count }

    /// Lets every waiting and future command through.
    public func release() {
        released = true
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }
}
