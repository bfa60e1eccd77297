import IPsecTestKit
import PolicyModel
import Providers
import Testing

/// Plugins in the merge: a directory-like plugin competes by rank with the directory (10), its cache
/// (20) and the local policy (30) for the one static slot; an additive plugin adds on top after the
/// dynamic rules.
@Suite struct DirectoryLikePluginTests {
    static func present(_ name: String, space: UInt8) -> ProviderReport {
        .policy(SourcePolicy.assigned(in: Fixtures.simple(name, space: space), location: name)!)
    }

    static func plugin(
        _ name: String,
        rank: Int,
        directoryLike: Bool = true,
        report: ProviderReport? = nil,
        space: UInt8 = 0x60
    ) -> NamedReport {
        NamedReport(
            name: "plugin:\(name)",
            kind: .plugin,
            report: report ?? present(name, space: space),
            rank: rank,
            isDirectoryLike: directoryLike
        )
    }

    /// Persistent, an optional directory (present or unreachable), an optional cache, local and dynamic.
    static func builtIns(directory: ProviderReport? = nil, cache: ProviderReport? = nil) -> [NamedReport] {
        var reports = [NamedReport(name: "persistent", kind: .persistent, report: present("P", space: 1))]
        if let directory { reports.append(NamedReport(name: "directory", kind: .directory, report: directory)) }
        if let cache { reports.append(NamedReport(name: "directory-cache", kind: .directoryCache, report: cache)) }
        reports.append(NamedReport(name: "local", kind: .local, report: present("L", space: 4)))
        reports.append(NamedReport(name: "dynamic", kind: .dynamic, report: present("Y", space: 5)))
        return reports
    }

    static func merged(_ selection: Selection) -> [String] {
        PolicyMerger.merge(selection.contributions, generation: 1).filters.map(\.provenance.source)
    }

    static func state(_ selection: Selection, _ name: String) -> SourceStatus.State? {
        selection.statuses.first { $0.name == name }?.state
    }

    @Test func aDirectoryLikePluginThatOutranksLocalReplacesIt() {
        let selection = SourceSelector.select(Self.builtIns() + [Self.plugin("cmdb", rank: 25)])
        #expect(Self.merged(selection) == ["persistent", "plugin:cmdb", "dynamic"])
        #expect(selection.staticChoice == .plugin("plugin:cmdb"))
        #expect(Self.state(selection, "plugin:cmdb") == .inEffect)
        let local = selection.statuses.first { $0.name == "local" }
        #expect(local?.state == .standby)
        #expect(local?.reason == "overridden by the plugin:cmdb policy")
    }

    @Test func aDirectoryLikePluginRankedBelowTheDirectoryDoesNotDisplaceIt() {
        let selection = SourceSelector.select(
            Self.builtIns(directory: Self.present("D", space: 2)) + [Self.plugin("cmdb", rank: 15)]
        )
        #expect(Self.merged(selection) == ["persistent", "directory", "dynamic"])
        #expect(selection.staticChoice == .directory)
        #expect(Self.state(selection, "plugin:cmdb") == .standby)
        #expect(Self.state(selection, "local") == .standby)
        #expect(selection.cacheAction == .replace(Self.present("D", space: 2).policy!))
    }

    @Test func aDirectoryLikePluginRankedAboveTheDirectoryWins() {
        let selection = SourceSelector.select(
            Self.builtIns(directory: Self.present("D", space: 2)) + [Self.plugin("cmdb", rank: 5)]
        )
        #expect(Self.merged(selection) == ["persistent", "plugin:cmdb", "dynamic"])
        #expect(Self.state(selection, "directory") == .standby)
        // The cache still follows the directory policy that was read.
        #expect(selection.cacheAction == .replace(Self.present("D", space: 2).policy!))
    }

    @Test func aFailedDirectoryLikePluginFallsBackToTheNextCandidate() {
        let failed = Self.plugin("cmdb", rank: 25, report: .failed(reason: "plugin crashed: signal 11 (SIGSEGV)"))
        let selection = SourceSelector.select(Self.builtIns() + [failed])
        #expect(Self.merged(selection) == ["persistent", "local", "dynamic"])
        #expect(selection.staticChoice == .local)
        let status = selection.statuses.first { $0.name == "plugin:cmdb" }
        #expect(status?.state == .failed)
        #expect(status?.reason == "plugin crashed: signal 11 (SIGSEGV)")

        // Between two plugins, the next one by rank takes over.
        let next = SourceSelector.select(Self.builtIns() + [failed, Self.plugin("inventory", rank: 28)])
        #expect(Self.merged(next) == ["persistent", "plugin:inventory", "dynamic"])
        // A plugin still starting is unavailable and does not hold the slot either.
        let starting = Self.plugin("cmdb", rank: 25, report: .unavailable(reason: "starting"))
        #expect(Self.merged(SourceSelector.select(Self.builtIns() + [starting])) == ["persistent", "local", "dynamic"])
    }

    @Test func theCacheCompetesOnlyWhileTheDirectoryIsUnavailable() {
        let unreachable = ProviderReport.unavailable(reason: "unreachable")
        let cache = Self.present("C", space: 3)
        let above = SourceSelector.select(
            Self.builtIns(directory: unreachable, cache: cache) + [Self.plugin("cmdb", rank: 15)]
        )
        #expect(Self.merged(above) == ["persistent", "plugin:cmdb", "dynamic"])
        #expect(Self.state(above, "directory-cache") == .standby)
        let below = SourceSelector.select(
            Self.builtIns(directory: unreachable, cache: cache) + [Self.plugin("cmdb", rank: 25)]
        )
        #expect(Self.merged(below) == ["persistent", "directory-cache", "dynamic"])
        // Unassigned in the directory: the cache is dropped and takes no part.
        let unassigned = SourceSelector.select(
            Self.builtIns(directory: .notConfigured(reason: nil), cache: cache) + [Self.plugin("cmdb", rank: 25)]
        )
        #expect(Self.merged(unassigned) == ["persistent", "plugin:cmdb", "dynamic"])
        #expect(unassigned.cacheAction == .drop)
        #expect(Self.state(unassigned, "directory-cache") == .notConfigured)
    }

    @Test func equalRanksPreferTheBuiltInSourceThenTheName() {
        let tie = SourceSelector.select(Self.builtIns() + [Self.plugin("cmdb", rank: 30)])
        #expect(Self.merged(tie) == ["persistent", "local", "dynamic"])
        var noLocal = Self.builtIns()
        noLocal.removeAll { $0.name == "local" }
        let plugins = SourceSelector.select(
            noLocal + [Self.plugin("zeta", rank: 150, space: 0x61), Self.plugin("alpha", rank: 150, space: 0x62)]
        )
        #expect(Self.merged(plugins) == ["persistent", "plugin:alpha", "dynamic"])
        #expect(Self.state(plugins, "plugin:zeta") == .standby)
    }

    @Test func additivePluginsMergeAfterDynamicByRank() {
        let selection = SourceSelector.select(
            [Self.plugin("late", rank: 500, directoryLike: false, space: 0x61)] + Self.builtIns()
                + [Self.plugin("early", rank: 5, directoryLike: false, space: 0x62)]
        )
        #expect(Self.merged(selection) == ["persistent", "local", "dynamic", "plugin:early", "plugin:late"])
        #expect(selection.staticChoice == .local)
    }

    @Test func theEngineUsesTheProvidersRankAndKind() async throws {
        struct Plugin: PolicyProvider {
            let name = "plugin:cmdb"
            let kind = SourceKind.plugin
            let rank = 25
            let isDirectoryLike = true
            func currentPolicy() async -> ProviderReport {
                .policy(SourcePolicy.assigned(in: Fixtures.simple("CMDB", space: 0x55), location: nil)!)
            }
            func changes() -> AsyncStream<Void> { AsyncStream { _ in } }
        }
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let engine = SourcesPolicyEngine(
            configuration: SourcesConfiguration(state: directory.state, codec: JSONStoreCodec(), runsTimers: false)
        )
        _ = try await engine.startPersistent()
        var local = Fixtures.simple("Local", space: 4)
        local.assignedPolicyID = nil
        try await engine.importPolicies(local, into: .local, assign: "Local")
        #expect(await engine.effectivePolicy().filters.map(\.provenance.policyName) == ["Local"])
        try await engine.register(Plugin())
        let policy = await engine.effectivePolicy()
        #expect(policy.filters.map(\.provenance.source) == ["plugin:cmdb"])
        let statuses = await engine.sourceStatuses()
        #expect(statuses.first { $0.name == "local" }?.state == .standby)
        #expect(statuses.first { $0.name == "plugin:cmdb" }?.state == .inEffect)
    }
}
