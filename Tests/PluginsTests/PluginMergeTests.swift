import DecisionCore
import Foundation
import IPsecTestKit
import PolicyFormats
import PolicyModel
import Providers
import Testing

@testable import Plugins

/// Plugins as providers of the real engine: they take part in the merge, in provenance and in explain
/// like the built-in sources, and a broken plugin leaves everything else applied.
@Suite(.serialized) struct PluginMergeTests {
    /// The sample document, renamed and re-addressed so that it can be the local policy.
    static func localStore() throws -> PolicyStore {
        let text = PluginFixtures.sampleDocument
            .replacingOccurrences(of: "6a1f0c9e", with: "7b2f0c9e")
            .replacingOccurrences(of: "Plugin", with: "Local")
            .replacingOccurrences(of: "198.18.7.1", with: "198.18.9.9")
        var store = try NativePolicyXML.read(Array(text.utf8), file: "local.xml")
        store.assignedPolicyID = nil
        return store
    }

    @Test func pluginsMergeWithProvenanceAndABrokenPluginChangesNothing() async throws {
        let fixtures = try await PluginFixtures.require()
        try #require(PluginFixtures.nativeReaderWorks, "needs PolicyFormats' native XML reader")
        let state = TemporaryDirectory(prefix: "ipsecsvc-state").path
        let pluginsD = TemporaryDirectory(prefix: "ipsecsvc-plugins.d").path
        defer {
            try? FileManager.default.removeItem(atPath: state)
            try? FileManager.default.removeItem(atPath: pluginsD)
        }
        try "path = \(fixtures.fixture)\nenabled = yes\noption.mode = good\n"
            .write(toFile: pluginsD + "/good.conf", atomically: true, encoding: .utf8)
        // The C example, serving a directory with one policy of its own.
        let xmlDirectory = TemporaryDirectory(prefix: "ipsecsvc-xmldir-policies").path
        defer { try? FileManager.default.removeItem(atPath: xmlDirectory) }
        let xmlPolicy = PluginFixtures.sampleDocument
            .replacingOccurrences(of: "6a1f0c9e", with: "8c3f0c9e")
            .replacingOccurrences(of: "Plugin", with: "Xmldir")
            .replacingOccurrences(of: "198.18.7.1", with: "198.18.8.8")
        try xmlPolicy.write(toFile: xmlDirectory + "/10-site.xml", atomically: true, encoding: .utf8)
        // Directory-like, ranked 25: it takes the local policy's place (local ranks 30).
        try "path = \(fixtures.xmldir)\nenabled = yes\nrank = 25\noption.directory = \(xmlDirectory)\n"
            .write(toFile: pluginsD + "/xmldir.conf", atomically: true, encoding: .utf8)
        try
            "path = \(PluginFixtures.inventoryPlugin)\nenabled = yes\noption.inventory = \(PluginFixtures.inventoryJSON)\n"
            .write(toFile: pluginsD + "/inventory.conf", atomically: true, encoding: .utf8)
        try "path = \(fixtures.fixture)\nenabled = yes\noption.mode = segfault\nrestart-delay = 30\n"
            .write(toFile: pluginsD + "/crashing.conf", atomically: true, encoding: .utf8)
        try "path = \(fixtures.fixture)\nenabled = yes\noption.mode = invalid\nrestart-delay = 30\n"
            .write(toFile: pluginsD + "/invalid.conf", atomically: true, encoding: .utf8)
        try "path = \(fixtures.fixture)\nenabled = yes\noption.mode = good\nrank = x\n"
            .write(toFile: pluginsD + "/typo.conf", atomically: true, encoding: .utf8)

        let me = IPv4Address(198, 18, 0, 10)
        let engine = SourcesPolicyEngine(
            configuration: SourcesConfiguration(
                state: StateDirectory(path: state),
                runsTimers: false
            )
        )
        _ = try await engine.startPersistent()
        _ = try await engine.importPolicies(try Self.localStore(), into: .local, assign: "Local policy")
        // The plugins register while the engine's background work runs, as in the service.
        let (statuses, policy, explanation) = try await TestEngine.running(engine) {
            let manager = PluginManager(
                configurationDirectory: pluginsD,
                launcher: PluginLauncher(executable: PluginFixtures.ipsecsvc)
            )
            // The supervisors' background work, a child of this test until the manager's stop.
            async let managing: Void = manager.run()
            await manager.register(with: engine)

            // Bounded wait for the four plugins to settle into the engine.
            let deadline = ContinuousClock.now + .seconds(60)
            var statuses: [String: SourceStatus] = [:]
            while ContinuousClock.now < deadline {
                statuses = Dictionary(uniqueKeysWithValues: await engine.sourceStatuses().map { ($0.name, $0) })
                let names = ["plugin:good", "plugin:inventory", "plugin:xmldir", "plugin:crashing", "plugin:invalid"]
                let settled = names.allSatisfy {
                    statuses[$0].map { $0.state == .inEffect || $0.state == .failed } ?? false
                }
                if settled { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let policy = await engine.effectivePolicy()
            let explanation = await engine.explain(
                PacketQuery(source: me, destination: IPv4Address(198, 18, 7, 1)),
                environment: ExplainEnvironment(host: HostInfo(addresses: [me]))
            )
            await manager.stop()
            await managing
            return (statuses, policy, explanation)
        }

        // Status: the broken plugins are failed with their reasons; the rest is in effect.
        #expect(statuses["local"]?.state == .standby)
        #expect(statuses["local"]?.reason == "overridden by the plugin:xmldir policy")
        #expect(statuses["plugin:good"]?.state == .inEffect)
        #expect(statuses["plugin:good"]?.policyName == "Fixture policy")
        #expect(statuses["plugin:inventory"]?.state == .inEffect)
        #expect(statuses["plugin:crashing"]?.state == .failed)
        #expect(statuses["plugin:crashing"]?.reason?.contains("signal 11 (SIGSEGV") ?? false)
        #expect(statuses["plugin:invalid"]?.state == .failed)
        #expect(statuses["plugin:invalid"]?.reason?.contains("invalid document") ?? false)
        #expect(statuses["plugin:typo"]?.state == .failed)
        #expect(statuses["plugin:typo"]?.reason?.hasPrefix("\(pluginsD)/typo.conf:4: rank must be an integer") ?? false)

        // The merge: the directory-like xmldir instead of local, then the additive plugins by rank
        // (fixture 400, inventory 500), each filter naming its plugin; nothing from the broken ones.
        #expect(statuses["plugin:xmldir"]?.state == .inEffect)
        #expect(statuses["plugin:xmldir"]?.policyName == "Xmldir policy")
        let sources = policy.filters.map(\.provenance.source)
        #expect(sources == ["plugin:xmldir", "plugin:good", "plugin:inventory", "plugin:inventory"])
        let good = try #require(policy.filters.first { $0.provenance.source == "plugin:good" })
        #expect(good.provenance.kind == .plugin)
        #expect(good.provenance.policyName == "Fixture policy")
        #expect(good.provenance.ruleName == "Fixture rule")
        #expect(good.provenance.store == fixtures.fixture)
        let inventory = policy.filters.filter { $0.provenance.source == "plugin:inventory" }
        #expect(inventory.map(\.provenance.ruleName) == ["Inventory: block", "Inventory: permit"])

        // explain names the plugin's filter.
        #expect(explanation.winner?.provenance.source == "plugin:good")
        #expect(explanation.verdict == .block)
    }
}
