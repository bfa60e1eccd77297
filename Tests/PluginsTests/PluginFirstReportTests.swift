import Foundation
import IPsecTestKit
import PolicyModel
import Providers
import Testing

@testable import Plugins

/// The service's start waits for each plugin's first report at most the plugin's `timeout` (one bounded
/// wait per source, docs/plugins.md), not a multiple of it.
@Suite struct PluginFirstReportTests {
    @Test func theStartWaitsOneTimeoutPerPlugin() {
        let configuration = testConfiguration(path: "/nonexistent.so", timeout: .seconds(7))
        #expect(PluginManager.firstReportWait(configuration) == .seconds(7))
    }

    /// A plugin whose host takes 1.5 s to start and whose first fetch takes 1.5 s more (each within its
    /// 2 s timeout) reports after the start's 2 s wait: the start goes on without it, and it joins later.
    @Test(.timeLimit(.minutes(2))) func aPluginLaterThanItsTimeoutIsReportedLateAndJoinsLater() async throws {
        let fixtures = try await PluginFixtures.require()
        let directory = TemporaryDirectory(prefix: "ipsecsvc-first-report")
        defer { directory.remove() }
        // A launcher that starts the plugin host 1.5 s late (the descriptor it is given stays open).
        let launcher = directory.write("slow-host", "#!/bin/sh\nsleep 1.5\nexec \(PluginFixtures.ipsecsvc) \"$@\"\n")
        chmod(launcher, 0o755)
        try FileManager.default.createDirectory(atPath: directory.file("plugins.d"), withIntermediateDirectories: true)
        _ = directory.write(
            "plugins.d/slow.conf",
            "path = \(fixtures.fixture)\nenabled = yes\ntimeout = 2\noption.mode = slow\noption.delay-ms = 1500\n"
        )
        let engine = SourcesPolicyEngine(
            configuration: SourcesConfiguration(state: StateDirectory(path: directory.file("state")), runsTimers: false)
        )
        _ = try await engine.startPersistent()
        try await TestEngine.running(engine) {
            let manager = PluginManager(
                configurationDirectory: directory.file("plugins.d"),
                launcher: PluginLauncher(executable: launcher),
                validator: PluginFixtures.validator
            )
            // The supervisors' background work, a child of this test until the manager's stop.
            async let managing: Void = manager.run()
            _ = await manager.register(with: engine)
            let late = await manager.firstReports()
            #expect(late == ["plugin:slow"])
            // Its rules apply once it reports.
            #expect(
                await eventually(timeout: .seconds(60)) {
                    await engine.sourceStatuses().first { $0.name == "plugin:slow" }?.state == .inEffect
                }
            )
            await manager.stop()
            await managing
        }
    }
}
