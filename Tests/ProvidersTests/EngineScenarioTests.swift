import Foundation
import IPsecSystem
import IPsecTestKit
import PolicyModel
import Providers
import Testing

/// The engine end to end on a temporary state directory, with directory snapshots built in code.
@Suite struct EngineScenarioTests {
    static let web = "OU=Web,OU=Servers," + TreeBuilder.domain
    static let snapshot = "/fixture/snapshot.ldif"

    struct Rig {
        let dir = TemporaryDirectory()
        let snapshots = FixtureSnapshots()
        let events = RecordingEventSink()

        func engine(directory: Bool = true) -> SourcesPolicyEngine {
            SourcesPolicyEngine(
                configuration: SourcesConfiguration(
                    state: dir.state,
                    directory: directory
                        ? DirectoryConfiguration(
                            snapshotPath: EngineScenarioTests.snapshot,
                            computerDN: TreeBuilder.computer
                        )
                        : nil,
                    codec: JSONStoreCodec(),
                    snapshotReader: snapshots,
                    policyDecoder: FixtureDecoder(),
                    events: events,
                    runsTimers: false
                )
            )
        }

        func importLocal(_ name: String, space: UInt8, engine: SourcesPolicyEngine) async throws {
            var store = Fixtures.simple(name, space: space)
            store.assignedPolicyID = nil
            try await engine.importPolicies(store, into: .local, assign: name)
        }

        /// A tree in which OU=Web links GPO 3 assigning policy `W`.
        func webTree(whenChanged: String = "20261129120000.0Z", assigned: Bool = true) -> TreeBuilder {
            var b = TreeBuilder()
            b.policy("W", space: 7, whenChanged: whenChanged)
            b.gpo(3, name: "Web IPsec", assigns: assigned ? "W" : nil)
            b.link(EngineScenarioTests.web, 3)
            return b
        }
    }

    func names(_ policy: EffectivePolicy) -> [String] { policy.filters.map(\.provenance.policyName) }

    @Test func localImportAndAssignAppliesAtOnce() async throws {
        let rig = Rig()
        defer { rig.dir.remove() }
        let engine = rig.engine(directory: false)
        _ = try await engine.startPersistent()
        #expect(await engine.effectivePolicy().filters.isEmpty)
        var changes = engine.changes().makeAsyncIterator()
        try await rig.importLocal("Local", space: 4, engine: engine)
        await changes.next()
        let policy = await engine.effectivePolicy()
        #expect(names(policy) == ["Local"])
        #expect(policy.filters[0].provenance.kind == .local)
        #expect(policy.filters[0].provenance.store == rig.dir.state.localStore)
        #expect(rig.events.events.contains(.appliedLocal(policy: "Local", store: rig.dir.state.localStore)))
    }

    @Test func directoryOverridesLocalThenCacheThenLocalOnUnassign() async throws {
        let rig = Rig()
        defer { rig.dir.remove() }
        let engine = rig.engine()
        _ = try await engine.startPersistent()
        try await rig.importLocal("Local", space: 4, engine: engine)
        #expect(names(await engine.effectivePolicy()) == ["Local"])

        // A snapshot with an OU assignment overrides the local policy and is cached.
        rig.snapshots.set(rig.webTree().tree, at: Self.snapshot)
        await engine.refresh()
        let directoryPolicy = await engine.effectivePolicy()
        #expect(names(directoryPolicy) == ["W"])
        #expect(directoryPolicy.filters[0].provenance.kind == .directory)
        #expect(directoryPolicy.filters[0].provenance.gpo == "Web IPsec")
        #expect(directoryPolicy.filters[0].provenance.linkedThrough == Self.web)
        #expect(FileManager.default.fileExists(atPath: rig.dir.state.directoryCache))
        #expect(rig.events.events.contains(.appliedDirectory(policy: "W", gpo: "Web IPsec", linkedThrough: Self.web)))

        // The snapshot disappears: the cached copy applies, with an event saying so.
        rig.snapshots.set(nil, at: Self.snapshot)
        await engine.refresh()
        let cached = await engine.effectivePolicy()
        #expect(names(cached) == ["W"])
        #expect(cached.filters[0].provenance.kind == .directoryCache)
        #expect(cached.filters[0].provenance.gpo == "Web IPsec")
        #expect(
            rig.events.events.contains {
                if case .appliedCachedDirectory(policy: "W", _) = $0 { return true }
                return false
            }
        )
        let statuses = await engine.sourceStatuses()
        #expect(statuses.first { $0.name == "directory" }?.state == .unavailable)
        #expect(statuses.first { $0.name == "local" }?.state == .standby)

        // The cache survives a restart while the directory stays unreachable.
        let restarted = rig.engine()
        _ = try await restarted.startPersistent()
        #expect(await restarted.effectivePolicy().filters.first?.provenance.kind == .directoryCache)

        // Explicitly unassigned: the cache is dropped and the local policy applies.
        rig.snapshots.set(rig.webTree(assigned: false).tree, at: Self.snapshot)
        await engine.refresh()
        #expect(names(await engine.effectivePolicy()) == ["Local"])
        #expect(!FileManager.default.fileExists(atPath: rig.dir.state.directoryCache))
    }

    @Test func deletedGPOKeepsTheCache() async throws {
        let rig = Rig()
        defer { rig.dir.remove() }
        let engine = rig.engine()
        _ = try await engine.startPersistent()
        try await rig.importLocal("Local", space: 4, engine: engine)
        rig.snapshots.set(rig.webTree().tree, at: Self.snapshot)
        await engine.refresh()
        var deleted = rig.webTree()
        deleted.remove(TreeBuilder.gpoDN(3))
        rig.snapshots.set(deleted.tree, at: Self.snapshot)
        await engine.refresh()
        let policy = await engine.effectivePolicy()
        #expect(names(policy) == ["W"])
        #expect(policy.filters[0].provenance.kind == .directoryCache)
    }

    @Test func policyChangePickedUpAtNextPollOrRefresh() async throws {
        let rig = Rig()
        defer { rig.dir.remove() }
        let engine = rig.engine()
        _ = try await engine.startPersistent()
        rig.snapshots.set(rig.webTree().tree, at: Self.snapshot)
        await engine.refresh()
        let directory = try #require(engine.directory)
        #expect(await directory.nextPollDelay() == .seconds(10_800))

        // Same change time: polling does not re-read the content.
        var edited = rig.webTree()
        edited.policy("W", space: 8)
        rig.snapshots.set(edited.tree, at: Self.snapshot)
        #expect(await directory.pollPolicy() == false)
        // A new change time: the next poll applies it.
        edited.policy("W", space: 8, whenChanged: "20261129130000.0Z")
        rig.snapshots.set(edited.tree, at: Self.snapshot)
        #expect(await directory.pollPolicy())
        let policy = await engine.effectivePolicy()
        #expect(policy.filters[0].filter.destination == Fixtures.host(1, net: 8))

        // A refresh re-reads everything regardless.
        var again = rig.webTree()
        again.policy("W", space: 9)
        rig.snapshots.set(again.tree, at: Self.snapshot)
        await engine.refresh()
        #expect(await engine.effectivePolicy().filters[0].filter.destination == Fixtures.host(1, net: 9))
    }

    @Test func persistentChangeIsPendingUntilRestart() async throws {
        let rig = Rig()
        defer { rig.dir.remove() }
        let codec = JSONStoreCodec()
        try StoreOperations.importPolicies(
            Fixtures.simple("P1", space: 1),
            into: .persistent,
            assign: "P1",
            state: rig.dir.state,
            codec: codec
        )
        let engine = rig.engine(directory: false)
        let persistentOnly = try await engine.startPersistent()
        #expect(names(persistentOnly) == ["P1"])
        try await engine.importPolicies(Fixtures.simple("P2", space: 2), into: .persistent, assign: "P2")
        #expect(names(await engine.effectivePolicy()) == ["P1"])
        #expect(await engine.sourceStatuses().first { $0.kind == .persistent }?.pendingRestart == true)
        #expect(rig.events.events.contains(.persistentPendingRestart(store: rig.dir.state.persistentStore)))

        let restarted = rig.engine(directory: false)
        #expect(names(try await restarted.startPersistent()) == ["P2"])
        #expect(await restarted.sourceStatuses().first { $0.kind == .persistent }?.pendingRestart == false)
    }

    @Test func persistentRewrittenWithTheSameBytesIsNotPendingAndOtherBytesAre() async throws {
        let rig = Rig()
        defer { rig.dir.remove() }
        try StoreOperations.importPolicies(
            Fixtures.simple("P1", space: 1),
            into: .persistent,
            assign: "P1",
            state: rig.dir.state,
            codec: JSONStoreCodec()
        )
        let engine = rig.engine(directory: false)
        // The service's start: the persistent store is read (not merged alone), then everything merges.
        #expect(try await engine.loadPersistent()?.policyName == "P1")
        #expect(names(await engine.effectivePolicy()) == ["P1"])
        func pending() async -> Bool? {
            await engine.sourceStatuses().first { $0.kind == .persistent }?.pendingRestart
        }
        #expect(await pending() == false)
        #expect(await pending() == false)
        let path = rig.dir.state.persistentStore
        let bytes = try FileSystem.read(path, limit: 1 << 20)
        // The same bytes in a new file (another inode, other times): not a change, asked twice.
        try DurableFile.write(bytes, to: path)
        #expect(await pending() == false)
        #expect(await pending() == false)
        // One more byte: a change; the first bytes again: none.
        try DurableFile.write(bytes + Array(" ".utf8), to: path)
        #expect(await pending() == true)
        try DurableFile.write(bytes, to: path)
        #expect(await pending() == false)
    }

    @Test func brokenPersistentStoreBlocksAndKeepsTheOthers() async throws {
        let rig = Rig()
        defer { rig.dir.remove() }
        rig.dir.write("persistent.xml", "garbage")
        let engine = rig.engine(directory: false)
        await #expect(throws: PersistentPolicyError.self) { try await engine.startPersistent() }
        try await rig.importLocal("Local", space: 4, engine: engine)
        let report = await engine.report()
        #expect(report.driverMode == .block)
        #expect(names(report.policy) == ["Local"])
        #expect(rig.events.events.contains { if case .persistentFailed = $0 { true } else { false } })
        // The broken file itself is not a change waiting for a restart.
        #expect(report.sources.first { $0.kind == .persistent }?.pendingRestart == false)
    }

    @Test func dynamicRulesGoneAfterRestartSettingsKept() async throws {
        let rig = Rig()
        defer { rig.dir.remove() }
        let engine = rig.engine(directory: false)
        _ = try await engine.startPersistent()
        let rule = DynamicRule(
            id: Fixtures.guid(2, space: 0x77),
            filter: Filter(id: .zero, source: .me, destination: Fixtures.host(5, net: 1)),
            mainModePolicy: "MM",
            actionInbound: .block,
            actionOutbound: .block
        )
        await engine.dynamic.replace(
            DynamicPolicy(mainModePolicies: [DynamicMainModePolicy(name: "MM")], rules: [rule])
        )
        // `netsh ipsec dynamic set config` as the service host writes it (its only owner).
        try DurableFile.write(Array("ipsecexempt = 3\nbootmode=block\n".utf8), to: rig.dir.state.dynamicSettings)
        let policy = await engine.effectivePolicy()
        #expect(policy.filters.map(\.provenance.kind) == [.dynamic])
        #expect(policy.filters[0].provenance.ruleName == rule.id.braced)
        #expect(policy.filters[0].inboundAction.action == .block)

        let restarted = rig.engine(directory: false)
        _ = try await restarted.startPersistent()
        #expect(await restarted.effectivePolicy().filters.isEmpty)
        // The dynamic source never touches the settings file.
        #expect(
            FileManager.default.contents(atPath: rig.dir.state.dynamicSettings)
                == Data("ipsecexempt = 3\nbootmode=block\n".utf8)
        )
    }

    @Test func pluginProvidersAddOnTop() async throws {
        struct Plugin: PolicyProvider {
            let name = "plugin:cmdb"
            let kind = SourceKind.plugin
            func currentPolicy() async -> ProviderReport {
                .policy(SourcePolicy.assigned(in: Fixtures.simple("CMDB", space: 0x55), location: nil)!)
            }
            func changes() -> AsyncStream<Void> { AsyncStream { _ in } }
        }
        let rig = Rig()
        defer { rig.dir.remove() }
        let engine = rig.engine(directory: false)
        _ = try await engine.startPersistent()
        try await rig.importLocal("Local", space: 4, engine: engine)
        try await engine.register(Plugin())
        await #expect(throws: ProviderRegistry.RegistrationError.self) { try await engine.register(Plugin()) }
        let policy = await engine.effectivePolicy()
        #expect(names(policy) == ["Local", "CMDB"])
        #expect(policy.filters[1].provenance.kind == .plugin)
        #expect(policy.filters[1].provenance.source == "plugin:cmdb")
    }
}

/// The engine's own timers: group-policy refresh re-evaluates assignments, polling re-reads the policy.
@Suite struct EngineTimerTests {
    /// Waits for the timers' changes, not for a time: the limit only guards against a hang (at load 30 the
    /// cooperative pool that runs the timers is shared by every suite of the process).
    @Test(.timeLimit(.minutes(5)))
    func refreshTimerPicksUpANewAssignment() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let snapshots = FixtureSnapshots()
        let engine = SourcesPolicyEngine(
            configuration: SourcesConfiguration(
                state: dir.state,
                directory: DirectoryConfiguration(
                    snapshotPath: "/snap",
                    computerDN: TreeBuilder.computer,
                    pollingInterval: .milliseconds(20),
                    groupPolicyRefreshInterval: .milliseconds(30)
                ),
                codec: JSONStoreCodec(),
                snapshotReader: snapshots,
                policyDecoder: FixtureDecoder(),
                runsTimers: true
            )
        )
        _ = try await engine.startPersistent()
        #expect(await engine.effectivePolicy().filters.isEmpty)
        try await TestEngine.running(engine) {
            var changes = engine.changes().makeAsyncIterator()
            var tree = TreeBuilder()
            tree.gpo(3, name: "Web IPsec", assigns: "W")
            tree.link(EngineScenarioTests.web, 3)
            snapshots.set(tree.tree, at: "/snap")
            await changes.next()
            #expect(await engine.effectivePolicy().filters.first?.provenance.policyName == "W")
            // A new change time on the policy: the polling timer applies the new content.
            tree.policy("W", space: 0x31, whenChanged: "20261129140000.0Z")
            snapshots.set(tree.tree, at: "/snap")
            while await engine.effectivePolicy().filters.first?.filter.destination != Fixtures.host(1, net: 0x31) {
                await changes.next()
            }
        }
    }
}
