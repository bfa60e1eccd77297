public import DecisionCore
public import Driver
import IPsecSystem
public import PolicyModel

/// The driver process as the agent sees it: an ``IPsecDriver`` whose calls travel over the driver socket
/// (``DriverLink``) to `ipsecsvc driver`.
///
/// It keeps what it was last told (settings, table, mode) and hands it over again to every new
/// connection — a driver restarted after a crash, or a new one — before the next call; a call that meets a
/// broken connection is repeated once on a new one. When the connection ends unasked it reconnects at
/// once in the background, and without systemd (``DriverLauncher``) starts a new driver first; under
/// systemd the unit restarts the driver and this waits for its socket. The background work (each link's
/// notices, the reconnection) runs as children of ``run()``, which the `run` process's group runs until
/// ``shutdown()``; without it (`boot`) the next call reconnects.
public actor RemoteDriver: IPsecDriver {
    /// How long a call may take (a change runs `iptables-restore`, which may wait for the xtables lock).
    public static let callTimeout: Duration = .seconds(90)
    /// How long to wait for a driver socket to answer (the unit's, or a driver just started).
    public static let connectTimeout: Duration = .seconds(20)

    public nonisolated let socketPath: String
    private let launcher: DriverLauncher?
    private let role: String
    private let agent: String
    private var client: DriverLinkClient?
    /// The connection being made, and whether it waits for a driver (a status query's does not).
    private var connecting: (task: Task<DriverLinkClient, any Error>, waits: Bool)?
    /// The link ended unasked and ``run()`` reconnects in the background.
    private var reconnecting = false
    /// What ``run()`` does in the background: watch a link, reconnect.
    private enum LinkWork: Sendable {
        case watch(DriverLinkClient)
        case reconnect
    }
    private nonisolated let linkWork: AsyncStream<LinkWork>
    private nonisolated let linkWorkSink: AsyncStream<LinkWork>.Continuation
    private var info: DriverProcessInfo?
    /// Why the driver could not be reached, while it cannot.
    private var problem: String?
    private var stopping = false
    private var settings: DriverSettings?
    private var mode: DriverRequest?
    private var table: (stamp: PolicyStamp, bytes: [UInt8])?
    private var peers: PeerAssociations?
    /// Where the driver's keying requests (link notices) go.
    private nonisolated let keyingRequests: (any KeyingRequestSink)?

    /// - Parameters:
    ///   - socketPath: the driver socket.
    ///   - launcher: how to start a driver when none answers (`nil` under systemd: the unit does).
    ///   - role: who speaks (`run`, `boot`), for the driver's logs.
    ///   - keyingRequests: IKE keying, which hears the driver's negotiation needs.
    public init(
        socketPath: String,
        launcher: DriverLauncher?,
        role: String,
        keyingRequests: (any KeyingRequestSink)? = nil
    ) {
        self.socketPath = socketPath
        self.launcher = launcher
        self.role = role
        self.keyingRequests = keyingRequests
        agent = "\(CurrentProcess.pid)@\(SystemClock.monotonicNanoseconds())"
        (linkWork, linkWorkSink) = AsyncStream.makeStream()
    }

    /// The link's background work as children of this call, until ``shutdown()`` or the cancellation of
    /// the calling task: each connection's notices (keying's requests) and, when a connection ends
    /// unasked, the reconnection. Call it once.
    public nonisolated func run() async {
        await withDiscardingTaskGroup { group in
            for await work in linkWork {
                switch work {
                case .watch(let client): group.addTask { await self.watch(client) }
                case .reconnect: group.addTask { await self.keepReconnecting() }
                }
            }
            group.cancelAll()
        }
    }

    // MARK: - IPsecDriver

    // Each change is remembered before it is sent, not once it is answered: a connection made while the
    // call is under way (the link broke after the driver took it, before its answer) hands the new driver
    // this state, never the one before it. A call that fails puts the previous one back, unless another
    // change came meanwhile. The agent hands tables over one at a time (DESIGN.md §1) and changes
    // settings inside its netsh transactions, one at a time; a mode change can overlap a table (each is
    // remembered on its own).

    public func enterStartupMode(_ mode: StartupMode, exemptions: [BootExemption]) async throws {
        try await changeMode(.startupMode(mode, exemptions: exemptions))
    }

    public func enterOperationalMode(_ mode: OperationalMode) async throws {
        try await changeMode(.operationalMode(mode))
    }

    private func changeMode(_ request: DriverRequest) async throws {
        let previous = mode
        mode = request
        do {
            try await call(request)
        } catch {
            if mode == request { mode = previous }
            throw error
        }
    }

    public func apply(_ policy: EffectivePolicy) async throws {
        let stamp = PolicyStamp(agent: agent, generation: policy.generation)
        let bytes = try PolicyWire.encode(policy)
        let previous = table
        table = (stamp, bytes)
        do {
            try await call(.apply(stamp), tail: bytes)
        } catch {
            if table?.stamp == stamp { table = previous }
            throw error
        }
    }

    public func configure(_ settings: DriverSettings) async throws {
        let previous = self.settings
        self.settings = settings
        do {
            try await call(.configure(settings))
        } catch {
            if self.settings == settings { self.settings = previous }
            throw error
        }
    }

    public func updatePeerAssociations(_ peers: PeerAssociations) async {
        // Remembered first: a driver that cannot be reached now hears it when the link is back.
        self.peers = peers
        _ = try? await call(.peerAssociations(peers))
    }

    public func status() async -> DriverStatus {
        // While the link is being restored, say so at once instead of waiting for it.
        if reconnecting, client == nil {
            return DriverStatus(problem: problem ?? "reconnecting to the IPSec driver process on \(socketPath)")
        }
        do {
            if case .status(var status) = try await call(.status, waitingForDriver: false) {
                status.process = status.process ?? info
                return status
            }
        } catch {
            problem = "\(error)"
        }
        return DriverStatus(problem: problem ?? "the driver process does not answer on \(socketPath)")
    }

    public func decisionState() async -> DriverDecisionState {
        if !reconnecting || client != nil, case .decisionState(let state)? = try? await call(.decisionState) {
            return state
        }
        return DriverDecisionState(settings: DecisionSettings(mode: nil), host: HostInfo())
    }

    /// The service's graceful stop: permit mode; a driver the service started exits, and this returns once
    /// it has closed its socket (so that the next start finds the network namespace free). From its start
    /// on, no change is sent any more, nor a call under way repeated (``refuseAfterShutdown(_:)``).
    public func shutdown() async throws {
        stopping = true
        reconnecting = false
        // ``run()`` ends: its reconnection and the link's watch are cancelled.
        linkWorkSink.finish()
        let current = client
        do {
            try await call(.shutdown)
        } catch let error as DriverLinkError where info?.exitsWithService == true {
            // The driver exits after its answer; a link that ends first has done what was asked.
            _ = error
        }
        mode = .operationalMode(.permit)
        if info?.exitsWithService == true, let current {
            // A driver that has not closed its end after 5 s is left running; the link is closed here so
            // that the wait for it ends (`closed()` returns only once the reader has seen the end).
            await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await current.closed()
                    return true
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(5))
                    return false
                }
                if await group.next() == false { current.close() }
                group.cancelAll()
            }
        }
        client?.close()
        client = nil
    }

    /// What the driver process on `socketPath` says of itself, if one answers (one attempt, no start).
    public static func probeStatus(socketPath: String) async -> DriverStatus? {
        guard
            let client = try? await BlockingPool.shared.run({ () throws(SystemError) in
                try DriverLinkClient.connect(socketPath)
            })
        else { return nil }
        defer { client.close() }
        let hello = DriverRequest.hello(LinkHello(pid: CurrentProcess.pid, role: "status"))
        guard case .hello(let info)? = try? await client.request(hello, timeout: .seconds(10)),
            case .status(var status)? = try? await client.request(.status, timeout: .seconds(10))
        else { return nil }
        status.process = status.process ?? info
        return status
    }

    // MARK: - The link

    /// Sends `request` and returns the driver's answer; a driver error is thrown as ``DriverError``.
    /// With `waitingForDriver` false (a status query) a driver that does not answer at once is an error at
    /// once: no driver is started and its socket is not waited for.
    @discardableResult
    private func call(
        _ request: DriverRequest,
        tail: [UInt8] = [],
        waitingForDriver: Bool = true
    ) async throws -> DriverReply {
        var lastLinkError: DriverLinkError?
        for _ in 0..<2 {
            try refuseAfterShutdown(request)
            let client = try await connected(waitingForDriver: waitingForDriver)
            try refuseAfterShutdown(request)
            do {
                let reply = try await client.request(request, tail: tail, timeout: Self.callTimeout)
                if case .failed(let error) = reply { throw error }
                return reply
            } catch let error as DriverLinkError {
                lastLinkError = error
                if self.client === client { self.client = nil }
            }
        }
        throw DriverError(
            .failed,
            "the IPSec driver process (\(socketPath)) failed: \(lastLinkError.map { "\($0)" } ?? "")"
        )
    }

    /// After ``shutdown()`` began, a change that has not been sent yet is not sent: the service stopped, its
    /// driver is in permit mode (or has exited), and a change now would enforce again, or start a driver
    /// for a stopped service. A call already under way whose link ends is not repeated either (queries
    /// are still answered).
    private func refuseAfterShutdown(_ request: DriverRequest) throws(DriverError) {
        guard stopping else { return }
        switch request {
        case .shutdown, .status, .decisionState, .hello: return
        case .configure, .startupMode, .operationalMode, .apply, .peerAssociations:
            throw DriverError(
                .failed,
                "the service has stopped the IPSec driver (\(socketPath)): a change after its stop is not sent"
            )
        }
    }

    /// The current connection, or a new one (started and brought up to date first).
    private func connected(waitingForDriver: Bool = true) async throws -> DriverLinkClient {
        if let client, !client.isClosed { return client }
        if let connecting {
            guard waitingForDriver else {
                throw DriverError(.failed, "connecting to the IPSec driver process on \(socketPath)")
            }
            if connecting.waits { return try await connecting.task.value }
            // A status query's attempt, which gives up at once: use it if it succeeds, else wait here.
            if let client = try? await connecting.task.value { return client }
            if self.connecting?.task == connecting.task { self.connecting = nil }
            return try await self.connected(waitingForDriver: true)
        }
        let task = Task { try await self.connect(waitingForDriver: waitingForDriver) }
        connecting = (task, waitingForDriver)
        defer { if connecting?.task == task { connecting = nil } }
        let client = try await task.value
        self.client = client
        problem = nil
        reconnecting = false
        linkWorkSink.yield(.watch(client))
        return client
    }

    /// Connects (starting a driver first when none answers and a launcher is set), says hello and hands
    /// over the settings, table and mode this agent gave the previous driver.
    private func connect(waitingForDriver: Bool) async throws -> DriverLinkClient {
        let client: DriverLinkClient
        do {
            client = try await attempt()
        } catch {
            guard waitingForDriver else {
                throw DriverError(.failed, "the IPSec driver process does not answer on \(socketPath) (\(error))")
            }
            if let launcher { try await launcher.launch() }
            client = try await waitForSocket()
        }
        do {
            let hello = try await client.request(
                .hello(LinkHello(pid: CurrentProcess.pid, role: role)),
                timeout: Self.callTimeout
            )
            switch hello {
            case .hello(let info): self.info = info
            case .failed(let error): throw error
            default: throw DriverError(.failed, "the driver answered hello with \(hello)")
            }
            for (request, tail) in replay() {
                let reply = try await client.request(request, tail: tail, timeout: Self.callTimeout)
                if case .failed(let error) = reply { throw error }
            }
        } catch {
            client.close()
            throw error
        }
        return client
    }

    /// What a new connection must hear before anything else: settings, table, mode.
    private func replay() -> [(DriverRequest, [UInt8])] {
        var requests: [(DriverRequest, [UInt8])] = []
        if let settings { requests.append((.configure(settings), [])) }
        if let table { requests.append((.apply(table.stamp), table.bytes)) }
        if let mode { requests.append((mode, [])) }
        if let peers { requests.append((.peerAssociations(peers), [])) }
        return requests
    }

    /// One connection attempt (off the cooperative pool: `connect` may block on a full backlog).
    private func attempt() async throws(SystemError) -> DriverLinkClient {
        let path = socketPath
        return try await BlockingPool.shared.run { () throws(SystemError) in try DriverLinkClient.connect(path) }
    }

    private func waitForSocket() async throws -> DriverLinkClient {
        let path = socketPath
        let clock = ContinuousClock()
        let deadline = clock.now + Self.connectTimeout
        var lastError = ""
        // Tried once more after the deadline: a task resumed late still finds a socket that came in time.
        while true {
            do {
                return try await BlockingPool.shared.run { () throws(SystemError) in try DriverLinkClient.connect(path)
                }
            } catch {
                lastError = "\(error)"
            }
            if let failure = try await launcher?.failure() { throw failure }
            guard clock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw DriverError(
            .failed,
            "the IPSec driver process does not answer on \(path) (\(lastError))"
                + (launcher == nil ? "; is ipsecsvc-driver.service running?" : "")
        )
    }

    /// Hands the driver's keying requests on until `client` ends; when it ended without being asked to,
    /// connects again at once (a driver restarted by its unit, or started anew) and hands it the current
    /// state (``keepReconnecting()``).
    private nonisolated func watch(_ client: DriverLinkClient) async {
        // The notices end with the connection.
        for await notice in client.notices {
            if case .keying(let request) = notice { keyingRequests?.submit(request) }
        }
        guard !Task.isCancelled else { return }
        await client.closed()
        await linkEnded(client)
    }

    private func linkEnded(_ ended: DriverLinkClient) {
        guard client === ended || client == nil else { return }
        client = nil
        guard !stopping, !reconnecting else { return }
        reconnecting = true
        linkWorkSink.yield(.reconnect)
    }

    /// Reconnects with a growing pause (5 ms to 1 s) until it succeeds, the service stops, or ``run()``
    /// ends.
    private nonisolated func keepReconnecting() async {
        var delay: Duration = .milliseconds(5)
        while !Task.isCancelled {
            if await reconnect() { return }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(1))
        }
    }

    /// One attempt of the background reconnection; whether it is over (connected, or stopping).
    private func reconnect() async -> Bool {
        guard !stopping, reconnecting else { return true }
        do {
            _ = try await connected()
            return true
        } catch {
            problem = "\(error)"
            return false
        }
    }
}

extension DriverStatus {
    /// The status of a driver that cannot be reached.
    init(problem: String) {
        self.init()
        self.problem = problem
    }
}
