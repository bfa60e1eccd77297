import Foundation
import IPsecTestKit
import PolicyModel
import Providers
import Testing

@testable import Plugins

/// `service refresh` / SIGHUP re-read plugins.d: ``PluginManager/reload(with:)`` starts new plugins,
/// restarts changed ones, stops and unregisters removed ones, and leaves unchanged ones running; the
/// engine's registered providers and effective policy follow.
@Suite(.serialized) struct PluginReloadTests {
    /// Polls the engine until `predicate` holds on its source statuses (bounded).
    static func settle(
        _ engine: SourcesPolicyEngine,
        seconds: Int64 = 60,
        _ predicate: ([String: SourceStatus]) -> Bool
    ) async throws -> [String: SourceStatus] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var statuses: [String: SourceStatus] = [:]
        repeat {
            statuses = Dictionary(
                await engine.sourceStatuses().map { ($0.name, $0) },
                uniquingKeysWith: { first, _ in first }
            )
            if predicate(statuses) { return statuses }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        return statuses
    }

    @Test(.timeLimit(.minutes(5)))
    func reloadAddsRestartsAndRemovesPlugins() async throws {
        let fixtures = try await PluginFixtures.require()
        let state = TemporaryDirectory(prefix: "ipsecsvc-reload-state").path
        let pluginsD = TemporaryDirectory(prefix: "ipsecsvc-reload-plugins.d").path
        defer {
            try? FileManager.default.removeItem(atPath: state)
            try? FileManager.default.removeItem(atPath: pluginsD)
        }
        // Unchanged through every reload: a plugin that crashes and waits 30 s before its restart.
        try "path = \(fixtures.fixture)\nenabled = yes\noption.mode = segfault\nrestart-delay = 30\n"
            .write(toFile: pluginsD + "/crashing.conf", atomically: true, encoding: .utf8)

        let engine = SourcesPolicyEngine(
            configuration: SourcesConfiguration(
                state: StateDirectory(path: state),
                runsTimers: false
            )
        )
        _ = try await engine.startPersistent()
        // The plugins register while the engine's background work runs, as in the service.
        try await TestEngine.running(engine) {
            let manager = PluginManager(
                configurationDirectory: pluginsD,
                launcher: PluginLauncher(executable: PluginFixtures.ipsecsvc),
                validator: PluginFixtures.validator
            )
            // The supervisors' background work, a child of this test until the manager's stop.
            async let managing: Void = manager.run()
            let first = await manager.register(with: engine)
            #expect(first.map(\.configuration.name) == ["crashing"])
            let crashing = try #require(first.first)
            var statuses = try await Self.settle(engine) { $0["plugin:crashing"]?.state == .failed }
            #expect(statuses["plugin:crashing"]?.state == .failed)

            // 1. Add a file: its plugin starts, registers, and its filter joins the effective policy.
            try "path = \(fixtures.fixture)\nenabled = yes\nrank = 7\noption.mode = good\n"
                .write(toFile: pluginsD + "/good.conf", atomically: true, encoding: .utf8)
            var running = await manager.reload(with: engine)
            #expect(running.map(\.configuration.name) == ["crashing", "good"])
            #expect(running.first === crashing, "an unchanged plugin keeps its supervisor")
            statuses = try await Self.settle(engine) { $0["plugin:good"]?.state == .inEffect }
            #expect(statuses["plugin:good"]?.state == .inEffect)
            #expect(await engine.effectivePolicy().filters.map(\.provenance.source) == ["plugin:good"])
            #expect((await engine.registry.provider(named: "plugin:good") as? PluginProvider)?.rank == 7)
            let good = try #require(running.last)

            // 2. Change its rank: the plugin restarts under the new rank; the unchanged one is untouched.
            try "path = \(fixtures.fixture)\nenabled = yes\nrank = 9\noption.mode = good\n"
                .write(toFile: pluginsD + "/good.conf", atomically: true, encoding: .utf8)
            running = await manager.reload(with: engine)
            #expect(running.map(\.configuration.name) == ["crashing", "good"])
            #expect(running.first === crashing)
            let restarted = try #require(running.last)
            #expect(restarted !== good)
            #expect(await good.state.health == .stopped)
            let deadline = ContinuousClock.now + .seconds(60)
            var rank: Int?
            repeat {
                rank = (await engine.registry.provider(named: "plugin:good") as? PluginProvider)?.rank
                if rank == 9 { break }
                try await Task.sleep(for: .milliseconds(100))
            } while ContinuousClock.now < deadline
            #expect(rank == 9)
            statuses = try await Self.settle(engine) { $0["plugin:good"]?.state == .inEffect }
            #expect(statuses["plugin:good"]?.state == .inEffect)
            #expect(await engine.effectivePolicy().filters.map(\.provenance.source) == ["plugin:good"])

            // 3. Remove it: unregistered, and its filter leaves the effective policy as the reload returns.
            try FileManager.default.removeItem(atPath: pluginsD + "/good.conf")
            running = await manager.reload(with: engine)
            #expect(running.map(\.configuration.name) == ["crashing"])
            #expect(running.first === crashing)
            #expect(await engine.registry.provider(named: "plugin:good") == nil)
            #expect(await engine.effectivePolicy().filters.isEmpty)
            #expect(await restarted.state.health == .stopped)
            #expect(await engine.sourceStatuses().contains { $0.name == "plugin:good" } == false)

            // 4. A file with an error shows as a failed source; fixing it (disabled) removes it.
            try "path = \(fixtures.fixture)\nenabled = yes\nranking = 3\n"
                .write(toFile: pluginsD + "/typo.conf", atomically: true, encoding: .utf8)
            await manager.reload(with: engine)
            statuses = try await Self.settle(engine) { $0["plugin:typo"] != nil }
            #expect(statuses["plugin:typo"]?.state == .failed)
            try "path = \(fixtures.fixture)\n"
                .write(toFile: pluginsD + "/typo.conf", atomically: true, encoding: .utf8)
            running = await manager.reload(with: engine)
            #expect(running.map(\.configuration.name) == ["crashing"])
            #expect(await engine.registry.provider(named: "plugin:typo") == nil)

            await manager.stop()
            await managing
            #expect(await crashing.state.health == .stopped)
            // After stop, a reload starts nothing.
            #expect(await manager.reload(with: engine).isEmpty)
        }
    }
}
