import Foundation
import IPsecTestKit
import PolicyModel
import Providers
import Testing

@testable import Plugins

/// Every plugin's work — its supervisor's background work, its start and its registration with the
/// engine — is one child of ``PluginManager/run()``: cancelling that call (the service group's
/// cancellation) ends them all, and a plugin that ends (its file removed) ends only its own child.
///
/// The plugin hosts here never answer (a launcher that sleeps), so each registration waits for its
/// plugin's first loaded state, subscribed to its supervisor's updates, for as long as the test wants.
@Suite struct PluginManagerRunTests {
    /// plugins.d with one file per name, each a plugin whose host sleeps (a 5-minute timeout, so it
    /// never fails during the test), and the launcher that sleeps.
    static func silentPlugins(_ names: [String], in directory: TemporaryDirectory) -> (String, PluginLauncher) {
        let launcher = directory.write("silent-host", "#!/bin/sh\nexec sleep 600\n")
        chmod(launcher, 0o755)
        try? FileManager.default.createDirectory(atPath: directory.file("plugins.d"), withIntermediateDirectories: true)
        for name in names {
            _ = directory.write("plugins.d/\(name).conf", "path = \(launcher)\nenabled = yes\ntimeout = 300\n")
        }
        return (directory.file("plugins.d"), PluginLauncher(executable: launcher))
    }

    @Test(.timeLimit(.minutes(2))) func cancellingRunEndsEveryPluginsWork() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-manager-run")
        defer { directory.remove() }
        let (pluginsD, launcher) = Self.silentPlugins(["one", "two"], in: directory)
        let engine = TestEngine.make(in: directory)
        let manager = PluginManager(configurationDirectory: pluginsD, launcher: launcher)
        let supervisors = await withDiscardingTaskGroup { group -> [PluginSupervisor] in
            group.addTask { await manager.run() }
            let supervisors = await manager.register(with: engine)
            #expect(supervisors.count == 2)
            // Both registrations run, each waiting for its plugin's first loaded state.
            let waiting = await eventually(timeout: .seconds(60)) {
                var count = 0
                for supervisor in supervisors { count += await supervisor.subscriberCount }
                return count == 2 && manager.runningChildren == 2
            }
            #expect(waiting)
            group.cancelAll()
            return supervisors
        }
        // run() has returned: no plugin's work outlives it.
        #expect(manager.runningChildren == 0)
        #expect(
            await eventually(timeout: .seconds(30)) {
                var count = 0
                for supervisor in supervisors { count += await supervisor.subscriberCount }
                return count == 0
            }
        )
        #expect(await engine.registry.providers(of: .plugin).isEmpty)
        await manager.stop()
    }

    @Test(.timeLimit(.minutes(2))) func aRemovedPluginEndsOnlyItsOwnChild() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-manager-child")
        defer { directory.remove() }
        let (pluginsD, launcher) = Self.silentPlugins(["kept", "removed"], in: directory)
        let engine = TestEngine.make(in: directory)
        let manager = PluginManager(configurationDirectory: pluginsD, launcher: launcher)
        async let managing: Void = manager.run()
        let supervisors = await manager.register(with: engine)
        let kept = try #require(supervisors.first { $0.configuration.name == "kept" })
        let removed = try #require(supervisors.first { $0.configuration.name == "removed" })
        #expect(await eventually(timeout: .seconds(60)) { manager.runningChildren == 2 })

        try FileManager.default.removeItem(atPath: pluginsD + "/removed.conf")
        let running = await manager.reload(with: engine)
        #expect(running.map { $0 === kept } == [true])
        #expect(await eventually(timeout: .seconds(30)) { manager.runningChildren == 1 })
        #expect(await removed.state.health == .stopped)
        #expect(await removed.subscriberCount == 0)
        // The other plugin's registration still waits for its first loaded state.
        #expect(await kept.subscriberCount == 1)
        #expect(await kept.state.health == .starting)

        await manager.stop()
        await managing
        #expect(manager.runningChildren == 0)
    }

    /// A supervisor that was stopped does not start again: a start that comes later (a registration
    /// that was still to run) launches no plugin host.
    @Test func aStoppedSupervisorDoesNotStartAgain() async {
        let supervisor = PluginSupervisor(
            configuration: testConfiguration(path: "/nonexistent/plugin.so"),
            launcher: PluginLauncher(executable: "/nonexistent/ipsecsvc")
        )
        await supervisor.stop()
        await supervisor.start()
        #expect(await supervisor.state.health == .stopped)
        var updates = await supervisor.updates().makeAsyncIterator()
        #expect(await updates.next()?.health == .stopped)
        #expect(await updates.next() == nil)
    }
}
