import IPsecSystem
public import PolicyModel

/// The Policy Agent's policy side: the built-in providers (persistent, directory, directory cache, local,
/// dynamic) and any plugins in one ``ProviderRegistry``, merged by ``SourceSelector`` and
/// ``PolicyMerger`` into one effective policy with provenance.
///
/// Who calls it: the service host's agent, one call at a time, in this order at service start:
/// ``loadPersistent()`` (the persistent policy alone, or ``startPersistent()`` to have it merged; if it
/// throws, the host leaves the persistent filters out and puts the driver in block mode), then
/// ``effectivePolicy()`` for the whole merge (persistent + directory, else its cache, else local +
/// dynamic + additive plugins). After that the host calls
/// ``effectivePolicy()`` again whenever ``changes()`` yields, and ``refresh()`` on SIGHUP or `service
/// refresh`. The control commands (import, export, show, explain), the plugins (``register(_:)``) and
/// netsh's dynamic rules (``dynamic``) call the rest, from any task. ``run()`` is the engine's background
/// work, a `Service` of the service's group; the CLI's read-only engines never run it. No call returns a
/// partially merged policy, and none blocks its task on I/O (files are read on the ``BlockingPool``).
public actor SourcesPolicyEngine {
    public nonisolated let configuration: SourcesConfiguration
    public nonisolated let registry = ProviderRegistry()
    public nonisolated let persistent: StoreProvider
    public nonisolated let local: StoreProvider
    public nonisolated let cache: DirectoryCacheProvider
    public nonisolated let directory: DirectoryProvider?
    public nonisolated let dynamic: DynamicStore

    private var registered = false
    private var generation: UInt64 = 0
    private var ticket = 0
    private var appliedTicket = 0
    private var current = EffectivePolicy.empty
    private var selection: Selection?
    private var since: [String: (SourceStatus.State, Int64)] = [:]
    private var appliedKeys: [String: String] = [:]
    private var lastCached: SourcePolicy?
    private var pendingReported = false
    private let signal = ChangeSignal()
    /// The effective policy changed since the host last took it (``effectivePolicy()``) and no
    /// ``changes()`` signal said so yet. Any merge may be the one that sees a provider's new state first
    /// (a `policy show` or `explain` read runs between the provider's update and its forwarded signal),
    /// so the change is announced by whichever call comes next, not only by the merge that the
    /// provider's signal runs: otherwise the host is never told and the driver keeps the old table
    /// while `policy show` and `status` show the new one.
    private var unannounced = false

    public init(configuration: SourcesConfiguration) {
        self.configuration = configuration
        let state = configuration.state
        persistent = StoreProvider(
            kind: .persistent,
            file: StoreFile(path: state.persistentStore, codec: configuration.codec)
        )
        local = StoreProvider(kind: .local, file: StoreFile(path: state.localStore, codec: configuration.codec))
        cache = DirectoryCacheProvider(cache: DirectoryCache(state: state, codec: configuration.codec))
        directory = configuration.directory.map {
            DirectoryProvider(
                configuration: $0,
                reader: configuration.directoryReader ?? $0.makeReader(snapshotReader: configuration.snapshotReader),
                decoder: configuration.policyDecoder,
                events: configuration.events
            )
        }
        dynamic = DynamicStore()
    }

    // MARK: - The agent's calls

    /// Reads and merges the persistent store alone.
    /// - Throws: ``PersistentPolicyError`` when the persistent store cannot be read or applied.
    @discardableResult
    public func startPersistent() async throws -> EffectivePolicy {
        guard let policy = try await loadPersistent() else { return EffectivePolicy(generation: generation) }
        return PolicyMerger.merge(
            [Contribution(kind: .persistent, sourceName: persistent.name, policy: policy)],
            generation: generation
        )
    }

    /// Reads the persistent store (and records whether it applies) without merging it: the service's
    /// start hands the driver one table with every source (``effectivePolicy()``), so a merge of the
    /// persistent policy alone would be built and thrown away (at 100,000 filters, an array of them
    /// that outlives the parse's temporaries: Benchmarks/README.md §4).
    /// - Returns: the persistent policy, or `nil` when none is assigned.
    /// - Throws: ``PersistentPolicyError`` when the persistent store cannot be read or applied.
    @discardableResult
    public func loadPersistent() async throws -> SourcePolicy? {
        await createLocalStoreOnFirstStart()
        await registerBuiltIns()
        let report = await persistent.load()
        switch report {
        case .policy(let policy):
            configuration.events.record(.appliedPersistent(policy: policy.policyName, store: policy.store))
            generation += 1
            return policy
        case .notConfigured:
            return nil
        case .failed(let reason), .unavailable(let reason):
            configuration.events.record(.persistentFailed(reason: reason))
            throw PersistentPolicyError(reason: reason)
        }
    }

    /// The whole effective policy with provenance, merged from every source now available: the host's
    /// call, which applies what it gets (a change it takes here is not signalled again). Reads that
    /// apply nothing use ``report()``.
    public func effectivePolicy() async -> EffectivePolicy {
        await recompute()
        unannounced = false
        return current
    }

    /// The first start creates the local store, with Windows' example policies unless configured
    /// otherwise; later starts find it and leave it as it is.
    private func createLocalStoreOnFirstStart() async {
        let state = configuration.state
        let codec = configuration.codec
        let examples: Bool
        switch configuration.firstLocalStore {
        case .leaveMissing: return
        case .examples: examples = true
        case .empty: examples = false
        }
        guard !configuration.readOnly else { return }
        let created = await BlockingPool.shared.run { () -> Result<Bool, any Error> in
            Result {
                try state.withLock {
                    try ExamplePolicies.createLocalStoreIfMissing(in: state, examples: examples, codec: codec)
                }
            }
        }
        if case .failure(let error) = created {
            configuration.events.record(
                .sourceFailed(
                    name: "local",
                    reason: "the new local store \(state.localStore) could not be written: \(error)"
                )
            )
        }
    }

    /// Re-reads the directory (assignments and policy), the local store and the plugins now.
    public func refresh() async {
        await registerBuiltIns()
        for provider in await registry.providers where provider.kind != .persistent {
            await provider.refresh()
        }
        await checkPendingRestart()
        await recomputeAndSignal()
    }

    /// Where each source stands, for `status` and `STATUS=` lines.
    public func sourceStatuses() async -> [SourceStatus] {
        if selection == nil { await recomputeAndSignal() }
        let pending = await persistent.pendingRestart()
        let directoryStatus = await directory?.status()
        return (selection?.statuses ?? []).map { status in
            var status = status
            status.since = since[status.name]?.1 ?? 0
            if status.kind == .persistent { status.pendingRestart = pending }
            if status.kind == .directory { status.directory = directoryStatus }
            return status
        }
    }

    /// Yields once for every change of the effective policy that the host must apply: a refresh, an
    /// import, a plugin registered or gone, and — while ``run()`` runs — any provider's own change.
    public nonisolated func changes() -> AsyncStream<Void> { signal.stream() }

    // MARK: - Control commands

    /// The effective policy with every source's state (`policy show --effective`).
    public func report() async -> EffectiveReport {
        await recomputeAndSignal()
        return EffectiveReport(
            policy: current,
            sources: await sourceStatuses(),
            driverMode: selection?.driverMode ?? .secure
        )
    }

    /// What the driver does with a packet under the current effective policy (`explain`), decided
    /// with the driver's mode, settings and host information in `environment`.
    public func explain(_ packet: PacketQuery, environment: ExplainEnvironment) async -> Explanation {
        await recomputeAndSignal()
        return Explainer.explain(packet, in: current, environment: environment)
    }

    /// `policy import` through the service: a local import applies at once, a persistent one waits for the
    /// next service start and shows as pending restart.
    @discardableResult
    public func importPolicies(
        _ imported: PolicyStore,
        into store: EditableStore,
        assign: String?
    ) async throws(StoreOperations.OperationError) -> PolicyStore {
        let state = configuration.state
        let codec = configuration.codec
        let written = try await BlockingPool.shared.run { () throws(StoreOperations.OperationError) -> PolicyStore in
            try StoreOperations.importPolicies(imported, into: store, assign: assign, state: state, codec: codec)
        }
        switch store {
        case .local:
            await local.refresh()
            await recomputeAndSignal()
        case .persistent:
            await checkPendingRestart()
        }
        return written
    }

    /// `policy export`: the store's content.
    public func exportPolicies(from store: EditableStore) async throws(StoreOperations.OperationError) -> PolicyStore {
        let state = configuration.state
        let codec = configuration.codec
        return try await BlockingPool.shared.run { () throws(StoreOperations.OperationError) -> PolicyStore in
            try StoreOperations.export(store, state: state, codec: codec)
        }
    }

    /// Registers a plugin provider; ``unregister(named:)`` removes it.
    public func register(_ provider: any PolicyProvider) async throws(ProviderRegistry.RegistrationError) {
        await registerBuiltIns()
        try await registry.register(provider)
    }

    /// Unregisters a plugin source (its plugins.d file was removed, disabled or changed) and merges
    /// again at once: its filters leave the effective policy before this returns, and the change
    /// stream fires when the filters changed. The built-in sources cannot be unregistered.
    public func unregister(named name: String) async {
        guard let provider = await registry.provider(named: name), provider.kind == .plugin else { return }
        await registry.unregister(named: name)
        since[name] = nil
        await recomputeAndSignal()
    }

    // MARK: - Background work

    /// The engine's background work, until the calling task is cancelled: a merge whenever a provider
    /// signals a change (``changes()`` yields when the filters changed; the registry's forwarding of each
    /// provider's signals, ``ProviderRegistry/run()``, is a child of this call), and the directory's policy
    /// polling and group-policy refresh timers. Cancelling it ends the timers and what they wait for (a
    /// running `directory_check` is killed) and every forwarding of provider changes; ``changes()`` then
    /// finishes. The service runs it as a `Service` of its group, shut down after the agent has stopped.
    public func run() async {
        await registerBuiltIns()
        let changes = registry.changes
        let directory = configuration.runsTimers ? directory : nil
        let registry = registry
        await withTaskGroup(of: Void.self) { group in
            // Every provider's change signals, forwarded by the registry's children of this call.
            group.addTask { await registry.run() }
            group.addTask {
                for await _ in changes { await self.recomputeAndSignal() }
            }
            // The directory's two timers. Each sleeps until its due time, at most a minute at a time, so a
            // changed interval (a new policy's, a failure's retry schedule) applies without restarting them.
            if let directory {
                group.addTask {
                    await directory.timersStarted()
                    while !Task.isCancelled {
                        let due = await directory.nextPollDue()
                        if ContinuousClock.now >= due {
                            await directory.pollPolicy()
                        } else {
                            let wake = min(due, .now + .seconds(60))
                            guard (try? await Task.sleep(until: wake, clock: .continuous)) != nil else { return }
                        }
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        let due = await directory.nextRefreshDue()
                        if ContinuousClock.now >= due {
                            await directory.refreshAssignments(trigger: .groupPolicyRefresh)
                        } else {
                            let wake = min(due, .now + .seconds(60))
                            guard (try? await Task.sleep(until: wake, clock: .continuous)) != nil else { return }
                        }
                    }
                }
            }
            await group.waitForAll()
        }
        signal.finish()
    }

    // MARK: - Merging

    private func registerBuiltIns() async {
        guard !registered else { return }
        registered = true
        var builtIns: [any PolicyProvider] = [persistent, cache, local, dynamic]
        if let directory { builtIns.append(directory) }
        for provider in builtIns { try? await registry.register(provider) }
    }

    /// Merges, and signals ``changes()`` when the effective policy changed since the host last took
    /// it, whichever merge saw the change (``unannounced``).
    private func recomputeAndSignal() async {
        await recompute()
        guard unannounced else { return }
        unannounced = false
        signal.signal()
    }

    /// Merges the providers' reports. Calls can overlap (the actor is re-entered while a provider is
    /// asked), so each takes a ticket and only a result newer than the last applied one is kept: an older
    /// merge that finishes late never replaces a newer policy.
    private func recompute() async {
        await registerBuiltIns()
        ticket += 1
        let mine = ticket
        var reports: [NamedReport] = []
        for provider in await registry.providers {
            reports.append(
                NamedReport(
                    name: provider.name,
                    kind: provider.kind,
                    report: await provider.currentPolicy(),
                    rank: provider.rank,
                    isDirectoryLike: provider.isDirectoryLike
                )
            )
        }
        guard mine > appliedTicket else { return }
        appliedTicket = mine
        let selected = SourceSelector.select(reports)
        recordEvents(selected, reports: reports)
        let now = Self.now()
        for status in selected.statuses where since[status.name]?.0 != status.state {
            since[status.name] = (status.state, now)
        }
        selection = selected
        let merged = PolicyMerger.merge(selected.contributions, generation: generation)
        if merged.filters != current.filters || merged.defaultResponses != current.defaultResponses {
            generation += 1
            current = EffectivePolicy(
                generation: generation,
                filters: merged.filters,
                defaultResponses: merged.defaultResponses
            )
            unannounced = true
        }
        await applyCacheAction(selected.cacheAction)
    }

    private func applyCacheAction(_ action: CacheAction) async {
        guard !configuration.readOnly else { return }
        switch action {
        case .keep:
            break
        case .replace(let policy):
            guard policy != lastCached else { return }
            do {
                try await cache.store(policy)
                lastCached = policy
            } catch {
                configuration.events.record(.sourceFailed(name: cache.name, reason: error.description))
            }
        case .drop:
            lastCached = nil
            guard case .policy = await cache.currentPolicy() else { return }
            do {
                try await cache.drop()
            } catch {
                configuration.events.record(.sourceFailed(name: cache.name, reason: error.description))
            }
        }
    }

    /// Events on transitions only. Each slot (which static policy applies; the directory's, the cache's and
    /// the local store's failures) keeps a key of its last state; an event is recorded when the key
    /// changes to a state that has one. "Nothing applies" is said only after something applied before.
    private func recordEvents(_ selected: Selection, reports: [NamedReport]) {
        func report(_ kind: SourceKind) -> ProviderReport? { reports.first { $0.kind == kind }?.report }
        let directory = report(.directory)
        var slots: [(slot: String, key: String, event: PolicyEvent?)] = []

        switch selected.staticChoice {
        case .directory:
            if let policy = directory?.policy {
                let event = PolicyEvent.appliedDirectory(
                    policy: policy.policyName,
                    gpo: policy.gpo,
                    linkedThrough: policy.linkedThrough
                )
                slots.append(("static", "directory:\(policy.key)", event))
            }
        case .directoryCache:
            if let policy = report(.directoryCache)?.policy {
                let event = PolicyEvent.appliedCachedDirectory(policy: policy.policyName, reason: directory?.reason)
                slots.append(("static", "cache:\(policy.key):\(directory?.reason ?? "")", event))
            }
        case .local:
            if let policy = report(.local)?.policy {
                let event = PolicyEvent.appliedLocal(policy: policy.policyName, store: policy.store)
                slots.append(("static", "local:\(policy.key)", event))
            }
        case .plugin(let name):
            // The plugin's own events (PluginManager's log) say that it applied.
            let policy = reports.first { $0.name == name }?.report.policy
            slots.append(("static", "\(name):\(policy?.key ?? "")", nil))
        case .none:
            slots.append(("static", "none", appliedKeys["static"] == nil ? nil : .noStaticPolicy))
        }

        switch directory {
        case .unavailable(let reason), .failed(let reason):
            slots.append(("directory", "failed:\(reason)", .failedDirectory(reason: reason)))
        default:
            slots.append(("directory", "ok", nil))
        }
        if selected.staticChoice != .directory, case .failed(let reason) = report(.directoryCache) {
            slots.append(("cache", "failed:\(reason)", .failedCachedDirectory(reason: reason)))
        } else {
            slots.append(("cache", "ok", nil))
        }
        if case .failed(let reason) = report(.local) {
            slots.append(("local", "failed:\(reason)", .failedLocal(reason: reason)))
        } else {
            slots.append(("local", "ok", nil))
        }

        for (slot, key, event) in slots where appliedKeys[slot] != key {
            appliedKeys[slot] = key
            if let event { configuration.events.record(event) }
        }
    }

    private func checkPendingRestart() async {
        let pending = await persistent.pendingRestart()
        if pending && !pendingReported {
            configuration.events.record(.persistentPendingRestart(store: persistent.file.path))
        }
        pendingReported = pending
    }

    private static func now() -> Int64 { SystemClock.secondsSince1970() }
}

extension SourcePolicy {
    /// Identifies an applied policy for events without printing its content.
    fileprivate var key: String {
        [policyName, policyID?.plain ?? "", String(whenChanged ?? 0), store ?? "", gpo ?? "", linkedThrough ?? ""]
            .joined(separator: "|")
    }
}
