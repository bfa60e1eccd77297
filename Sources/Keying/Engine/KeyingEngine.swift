public import DecisionCore
public import PolicyModel

/// IKE keying through strongSwan's charon over vici (docs/keying.md).
///
/// One actor owns what charon holds on the service's behalf: the configuration planned from the
/// effective policy (``KeyingPlanner``), the per-peer connections made from range rules, the
/// negotiations ipsecsvc started, the soft associations and the counters. Three loops feed it, children
/// of ``run()`` from ``start()`` to ``stop()``: the driver's requests, charon's events (with reconnects:
/// after a charon restart everything is loaded again), and a one-second tick that ages soft
/// associations and retries. Changes to charon (load, replace, unload) run one at a time, in order.
public actor KeyingEngine: Keying {
    struct Negotiation {
        var peer: IPv4Address
        var connection: String
        var child: String
        var rule: RuleReference
        var soft: Bool
        var softIdleSeconds: UInt32
        var started: ContinuousClock.Instant
        /// Set when the negotiation ended in failure: retried after ``KeyingEngine/retryInterval``.
        var failedAt: ContinuousClock.Instant?
        /// The peer never answered and a soft association replaced the negotiation.
        var becameSoft = false
    }

    struct SoftAssociation {
        var rule: RuleReference
        var since: Int64
        var idleLimit: Duration
        var lastUsed: ContinuousClock.Instant
        /// From the negotiation's start (the first packet's request) to this association.
        var fallback: Duration
    }

    public nonisolated let settings: KeyingSettings
    let client: ViciClient
    let events: any KeyingEventSink
    private let loadCredentials: @Sendable () -> Credentials
    let hostSource: @Sendable () -> KeyingHost
    private nonisolated let requestSink: AsyncStream<KeyingRequest>.Continuation
    private nonisolated let requests: AsyncStream<KeyingRequest>
    /// ``start()`` and ``stop()`` as ``run()`` hears them.
    private enum Phase { case started, stopped }
    private nonisolated let phases: AsyncStream<Phase>
    private nonisolated let phaseSink: AsyncStream<Phase>.Continuation
    private var started = false
    private var stopped = false
    /// ``run()``'s loops run: ``stop()`` waits for their end (``loopsEnded``).
    private var looping = false
    private var loopsEnded: [CheckedContinuation<Void, Never>] = []
    private var watchers: [Int: AsyncStream<PeerAssociations>.Continuation] = [:]
    private var nextWatcher = 0

    var policy = EffectivePolicy.empty
    var host = KeyingHost()
    var plan = IKEConfiguration.empty
    /// What charon holds from this service: connections and secrets by name.
    var loaded: [String: IKEConnection] = [:]
    var loadedSecrets: [String: IKESecret] = [:]
    /// Per-peer connections made from range rules, by name, with their template's name.
    var specialized: [String: (template: String, connection: IKEConnection, secrets: [IKESecret])] = [:]
    var connected = false
    /// The event subscription is registered: charon is there even while a command connection broke.
    var subscribed = false
    /// The (re)synchronisation with charon that runs now (``synchronize()``).
    var synchronizing: Task<Void, Never>?
    var daemon: String?
    var lastError: String?
    var negotiations: [String: Negotiation] = [:]
    var soft: [IPv4Address: SoftAssociation] = [:]
    var counters: [String: UInt64] = [:]
    var failures: [NegotiationFailure] = []
    /// Rules already reported as not negotiable (by rule key and reason).
    private var reported: Set<String> = []
    private var published = PeerAssociations.none
    /// Quick modes per IKE SA (unique id), for the quick-mode limit.
    var quickModesPerMainMode: [String: Int] = [:]
    private var changing = false
    private var changeWaiters: [CheckedContinuation<Void, Never>] = []

    /// How long a failed negotiation waits before the next packet may start another.
    let retryInterval: Duration
    /// How often soft associations are aged.
    let tickInterval: Duration
    /// How often the host's addresses are read again (`me`, special servers).
    let hostCheckInterval: Duration = .seconds(5)
    var lastHostCheck = ContinuousClock.now

    /// - Parameters:
    ///   - settings: the `ike_*` settings.
    ///   - events: where failures, soft associations and daemon changes are reported.
    ///   - hostSource: this computer's addresses and special servers; read when a policy is applied and
    ///     every tick (a change re-plans). Must be cheap.
    ///   - callTimeout: how long a vici call may take before its connection counts as broken (and
    ///     charon's state is read again).
    public init(
        settings: KeyingSettings,
        events: any KeyingEventSink,
        hostSource: @escaping @Sendable () -> KeyingHost,
        retryInterval: Duration = .seconds(5),
        tickInterval: Duration = .seconds(1),
        callTimeout: Duration = .seconds(10)
    ) {
        self.settings = settings
        self.events = events
        self.hostSource = hostSource
        self.retryInterval = retryInterval
        self.tickInterval = tickInterval
        client = ViciClient(socketPath: settings.viciSocket, defaultTimeout: callTimeout)
        let directories = (settings.caDirectory, settings.certificateDirectory)
        loadCredentials = { Credentials.load(caDirectory: directories.0, certificateDirectory: directories.1) }
        (requests, requestSink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(4096))
        (phases, phaseSink) = AsyncStream.makeStream()
    }

    // MARK: - Keying

    public nonisolated func submit(_ request: KeyingRequest) {
        requestSink.yield(request)
    }

    public func start() async {
        guard !started else { return }
        started = true
        phaseSink.yield(.started)
    }

    /// Runs the request, event and tick loops from ``start()`` until ``stop()`` (or until the calling task
    /// is cancelled), as children of this call: the service host runs it as a `Service` of its group.
    /// Returns at once when ``stop()`` came first. Call it once.
    public nonisolated func run() async {
        var phases = self.phases.makeAsyncIterator()
        guard await phases.next() == .started, await beginLoops() else { return }
        let requests = requests
        let client = client
        let interval = tickInterval
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await request in requests { await self.handle(request) }
            }
            group.addTask {
                await client.receive(["ike-updown", "child-updown", "child-rekey"]) { await self.handle($0) }
            }
            group.addTask {
                while (try? await Task.sleep(for: interval)) != nil { await self.tick() }
            }
            // ``stop()``, or the cancellation of this call (then `nil`).
            _ = await phases.next()
            group.cancelAll()
        }
        await endLoops()
    }

    /// Whether the loops may begin: not when ``stop()`` came first.
    private func beginLoops() -> Bool {
        guard !stopped else { return false }
        looping = true
        return true
    }

    private func endLoops() {
        looping = false
        for waiter in loopsEnded { waiter.resume() }
        loopsEnded = []
    }

    public func apply(_ policy: EffectivePolicy) async {
        self.policy = policy
        host = hostSource()
        await replan()
    }

    public func peerAssociations() -> AsyncStream<PeerAssociations> {
        let (stream, continuation) = AsyncStream<PeerAssociations>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = nextWatcher
        nextWatcher += 1
        watchers[id] = continuation
        continuation.yield(published)
        continuation.onTermination = { [weak self] _ in
            Task { await self?.removeWatcher(id) }
        }
        return stream
    }

    public func status() async -> KeyingStatus {
        let now = ContinuousClock.now
        return KeyingStatus(
            mode: "strongswan",
            viciSocket: settings.viciSocket,
            datapath: settings.datapath.rawValue,
            connected: connected,
            daemon: daemon,
            lastError: connected ? nil : lastError,
            connections: loaded.count,
            secrets: loadedSecrets.count,
            counters: counters.merging(
                [
                    "negotiations.active": UInt64(
                        negotiations.values.filter { $0.failedAt == nil && !$0.becameSoft }.count
                    )
                ]
            ) { $1 },
            softAssociations: softStatuses(now: now),
            unnegotiable: plan.unnegotiableRules,
            recentFailures: failures,
            notes: plan.notes + credentialsProblems
        )
    }

    public func associations() async throws(KeyingError) -> KeyingAssociations {
        let items: [ViciMessage]
        do {
            items = try await client.stream("list-sas", event: "list-sa").items
        } catch {
            throw .daemonUnavailable("\(error)")
        }
        var result = KeyingAssociations.parse(items, rules: loaded.mapValues(\.rule))
        result.softAssociations = softStatuses(now: .now)
        return result
    }

    public func peerState(_ peer: IPv4Address) async -> PeerKeyingState {
        var state = PeerKeyingState(
            enabled: true,
            softAssociation: soft[peer] != nil,
            negotiating: negotiations.values.contains { $0.peer == peer && $0.failedAt == nil && !$0.becameSoft },
            lastFailure: failures.last { $0.peer == peer }
        )
        do {
            let items = try await client.stream("list-sas", event: "list-sa").items
            let live = KeyingAssociations.parse(items, rules: [:])
            state.hasSecurityAssociation =
                live.mainModes.contains { $0.remote == peer.description && $0.state == "ESTABLISHED" }
                && live.quickModes.contains { $0.remote == peer.description }
        } catch {
            state.note = "the IKE daemon (charon) is not available: \(error)"
        }
        return state
    }

    public func stop() async {
        // A call that breaks while unloading must not start a synchronisation that loads it all again.
        subscribed = false
        stopped = true
        phaseSink.yield(.stopped)
        // The loops end (a request or event being handled finishes first: its calls are bounded by the
        // vici call timeout), so nothing they do can follow the unload below.
        if looping { await withCheckedContinuation { loopsEnded.append($0) } }
        // A synchronisation already running would load after the unload below: let it end first (its
        // calls are bounded by the vici call timeout).
        await synchronizing?.value
        await beginChange()
        if connected {
            for name in loaded.keys.sorted() { await removeConnection(name) }
            for id in loadedSecrets.keys.sorted() { await removeSecret(id) }
        }
        endChange()
        for (_, watcher) in watchers { watcher.finish() }
        watchers = [:]
        await client.closeIdleConnections()
    }

    // MARK: - Planning

    private var credentialsProblems: [String] = []

    /// Plans the current policy and host, reports rules that became unnegotiable, and brings charon
    /// in line.
    func replan() async {
        let credentials = loadCredentials()
        credentialsProblems = credentials.problems
        plan = KeyingPlanner.plan(policy, host: host, credentials: credentials, datapath: settings.datapath)
        var current: Set<String> = []
        for rule in plan.unnegotiableRules {
            let key = rule.rule.key + "|" + rule.reason
            current.insert(key)
            if !reported.contains(key) { events.keyingEvent(.notNegotiable(rule)) }
        }
        reported = current
        await beginChange()
        if connected { await reconcile() }
        endChange()
    }

    /// Loads what the plan adds or changes and unloads what it no longer has, secrets before the
    /// connections that need them and after those that needed them. A changed or removed connection's
    /// SAs are torn down first: they were negotiated under rules that no longer hold.
    func reconcile() async {
        // Per-peer connections follow their template: dropped when it went or changed.
        for (name, entry) in specialized {
            guard let template = plan.connections[entry.template],
                KeyingPlanner.specialize(template, to: peerOf(entry.connection), secrets: plan.secrets).connection
                    == entry.connection
            else {
                specialized[name] = nil
                continue
            }
        }
        var wantedConnections = plan.connections
        var wantedSecrets = plan.secrets
        for (name, entry) in specialized {
            wantedConnections[name] = entry.connection
            for secret in entry.secrets { wantedSecrets[secret.id] = secret }
        }
        // Each step runs its charon calls a few at a time (vici takes one command per connection):
        // loading a thousand rules is bound by round trips, not by charon.
        let secretsToLoad = wantedSecrets.values.filter { loadedSecrets[$0.id] != $0 }.sorted { $0.id < $1.id }
        for (secret, error) in await inParallel(secretsToLoad, { client, secret in await Self.load(secret, client) }) {
            if let error { failed(error, loading: secret.id) } else { secretLoaded(secret) }
        }
        let gone = loaded.keys.filter { wantedConnections[$0] == nil }.sorted()
        for (name, error) in await inParallel(gone, { client, name in await Self.unload(name, client) }) {
            if let error { failed(error, loading: name) } else { connectionUnloaded(name) }
        }
        let changed = wantedConnections.values.filter { loaded[$0.name] != $0 }.sorted { $0.name < $1.name }
        let replaced = Set(changed.map(\.name).filter { loaded[$0] != nil })
        let loads = await inParallel(changed) { client, connection in
            await Self.load(connection, replacing: replaced.contains(connection.name), client)
        }
        for (connection, error) in loads {
            if let error {
                loaded[connection.name] = nil
                failed(error, loading: connection.name)
            } else {
                connectionLoaded(connection)
            }
        }
        let unused = loadedSecrets.keys.filter { wantedSecrets[$0] == nil }.sorted()
        for id in unused {
            guard connected else { return }
            await removeSecret(id)
        }
        // Negotiations of connections that went are over.
        negotiations = negotiations.filter { wantedConnections[$0.value.connection] != nil }
        publish()
    }

    /// Runs `work` for every item with up to ``parallelCalls`` in flight and returns each item with the
    /// error its work met (`nil`: done). Stops starting new work once the daemon is lost.
    func inParallel<Item: Sendable>(
        _ items: [Item],
        _ work: @escaping @Sendable (ViciClient, Item) async -> ViciError?
    ) async -> [(Item, ViciError?)] {
        guard connected, !items.isEmpty else { return [] }
        let client = client
        var results: [(Item, ViciError?)] = []
        await withTaskGroup(of: (Item, ViciError?).self) { group in
            var next = items.makeIterator()
            var lost = false
            for _ in 0..<Self.parallelCalls {
                guard let item = next.next() else { break }
                group.addTask { (item, await work(client, item)) }
            }
            for await result in group {
                results.append(result)
                if let error = result.1, error.isConnectionLoss { lost = true }
                if !lost, let item = next.next() { group.addTask { (item, await work(client, item)) } }
            }
        }
        return results
    }

    /// How many charon calls a reconciliation keeps in flight (the client's connection pool).
    static let parallelCalls = 4

    static func load(_ secret: IKESecret, _ client: ViciClient) async -> ViciError? {
        let command = if case .privateKey = secret.kind { "load-key" } else { "load-shared" }
        do {
            try await client.checkedCall(command, secret.loadMessage)
            return nil
        } catch {
            return error
        }
    }

    /// Loads `connection`; a replaced one's SAs are torn down first (they were negotiated under rules
    /// that no longer hold).
    static func load(_ connection: IKEConnection, replacing: Bool, _ client: ViciClient) async -> ViciError? {
        do {
            if replacing { _ = try await client.call("terminate", terminateMessage(connection.name)) }
            try await client.checkedCall("load-conn", connection.loadMessage)
            return nil
        } catch {
            return error
        }
    }

    /// Tears a connection's SAs down and unloads it (unload-conn alone leaves the SAs).
    static func unload(_ name: String, _ client: ViciClient) async -> ViciError? {
        do {
            _ = try await client.call("terminate", terminateMessage(name))
            _ = try await client.call("unload-conn", ["name": .text(name)])
            return nil
        } catch {
            return error
        }
    }

    static func terminateMessage(_ name: String) -> ViciMessage {
        ["ike": .text(name), "force": "yes", "timeout": "-1"]
    }

    func secretLoaded(_ secret: IKESecret) {
        count("charon.secrets-loaded")
        loadedSecrets[secret.id] = secret
    }

    func connectionLoaded(_ connection: IKEConnection) {
        count("charon.connections-loaded")
        loaded[connection.name] = connection
    }

    func connectionUnloaded(_ name: String) {
        count("charon.connections-unloaded")
        loaded[name] = nil
    }

    func peerOf(_ connection: IKEConnection) -> IPv4Address {
        if case .host(let ip) = connection.peer { return ip }
        return IPv4Address(value: 0)
    }

    // MARK: - charon calls

    func loadSecret(_ secret: IKESecret) async {
        if let error = await Self.load(secret, client) {
            failed(error, loading: secret.id)
        } else {
            secretLoaded(secret)
        }
    }

    func removeSecret(_ id: String) async {
        guard let secret = loadedSecrets[id] else { return }
        if case .sharedKey = secret.kind {
            do {
                try await client.checkedCall("unload-shared", ["id": .text(id)])
                count("charon.secrets-unloaded")
            } catch  where error.isConnectionLoss {
                lost(error)
                return
            } catch {}
        }
        loadedSecrets[id] = nil
    }

    func loadConnection(_ connection: IKEConnection) async {
        if let error = await Self.load(connection, replacing: false, client) {
            loaded[connection.name] = nil
            failed(error, loading: connection.name)
        } else {
            connectionLoaded(connection)
        }
    }

    func removeConnection(_ name: String) async {
        await terminate(name)
        do {
            try await client.checkedCall("unload-conn", ["name": .text(name)])
            count("charon.connections-unloaded")
        } catch  where error.isConnectionLoss {
            lost(error)
            return
        } catch {}
        loaded[name] = nil
    }

    /// Tears the connection's SAs down at once (unload-conn leaves them alone).
    func terminate(_ name: String) async {
        do {
            _ = try await client.call("terminate", Self.terminateMessage(name))
        } catch {
            if error.isConnectionLoss { lost(error) }
        }
    }

    private func failed(_ error: ViciError, loading name: String) {
        if error.isConnectionLoss {
            lost(error)
        } else {
            events.keyingEvent(.loadFailed(name: name, reason: "\(error)"))
        }
    }

    /// The daemon went away in the middle of a call: the subscription notices too and reloads
    /// everything once it is back.
    func lost(_ error: ViciError) {
        // Reported when an open connection breaks, and once when charon is not there at start.
        let report = connected || lastError == nil
        connected = false
        lastError = "\(error)"
        if report { events.keyingEvent(.daemonLost(reason: "\(error)")) }
        startSynchronizing()
    }

    // MARK: - Serialised changes

    func beginChange() async {
        while changing { await withCheckedContinuation { changeWaiters.append($0) } }
        changing = true
    }

    func endChange() {
        changing = false
        if !changeWaiters.isEmpty { changeWaiters.removeFirst().resume() }
    }

    // MARK: - Publishing

    func publish() {
        let next = PeerAssociations(
            softPeers: Set(soft.keys),
            negotiating: Set(negotiations.values.filter { $0.failedAt == nil && !$0.becameSoft }.map(\.peer))
        )
        guard next != published else { return }
        published = next
        for (_, watcher) in watchers { watcher.yield(next) }
    }

    private func removeWatcher(_ id: Int) { watchers[id] = nil }

    func count(_ name: String, _ amount: UInt64 = 1) { counters[name, default: 0] &+= amount }

    func softStatuses(now: ContinuousClock.Instant) -> [SoftAssociationStatus] {
        soft.keys.sorted { $0.value < $1.value }.map { peer in
            let entry = soft[peer]!
            return SoftAssociationStatus(
                peer: peer,
                rule: entry.rule,
                since: entry.since,
                idleLimitSeconds: UInt32(entry.idleLimit.components.seconds),
                idleSeconds: entry.lastUsed.duration(to: now).components.seconds,
                fallbackMilliseconds: entry.fallback.wholeMilliseconds
            )
        }
    }
}
