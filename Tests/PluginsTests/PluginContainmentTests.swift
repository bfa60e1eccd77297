import Foundation
import IPsecTestKit
import PolicyModel
import Testing

@testable import Plugins

/// What a plugin starts dies with it, and a plugin cannot flood the service with change signals.
@Suite(.serialized) struct PluginContainmentTests {
    /// The helper a plugin started (`sleep 300`, its pid in `file`): once the plugin host is gone, the
    /// helper must be gone too (or a zombie waiting for init). Returns the pid, for cleanup.
    static func helperPID(_ file: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Whether `pid` still runs our helper: alive, not a zombie, and `sleep 300`.
    static func helperRuns(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")"),
            stat[stat.index(after: close)...].split(separator: " ").first != "Z",
            let arguments = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)
        else { return false }
        return arguments.split(separator: "\0") == ["sleep", "300"]
    }

    /// Kills a helper left running (only in the failing case, and only while it is still the helper).
    static func cleanUp(_ pid: pid_t?) {
        if let pid, helperRuns(pid) { kill(pid, SIGKILL) }
    }

    @Test func whatAPluginStartsDiesWhenThePluginStops() async throws {
        let fixtures = try await PluginFixtures.require()
        let scratch = TemporaryDirectory(prefix: "ipsecsvc-plugin-fork")
        defer { scratch.remove() }
        let marker = scratch.file("helper.pid")
        let configuration = testConfiguration(path: fixtures.fixture, options: ["mode": "fork", "state": marker])
        let supervisor = PluginSupervisor(
            configuration: configuration,
            launcher: PluginLauncher(executable: PluginFixtures.ipsecsvc),
            validator: PluginFixtures.validator
        )
        async let supervising: Void = supervisor.run()
        await supervisor.start()
        let running = await waitFor(supervisor) { $0.isRunning || $0.isFailed }
        #expect(running.isRunning, "\(running.health)")
        let started = await eventually { Self.helperPID(marker).map(Self.helperRuns) == true }
        let helper = Self.helperPID(marker)
        defer { Self.cleanUp(helper) }
        try #require(started, "the plugin's helper did not start")

        await supervisor.stop()
        await supervising
        let gone = await eventually(timeout: .seconds(10)) { !Self.helperRuns(helper!) }
        #expect(gone, "the plugin's helper \(helper!) outlived the plugin's stop")
    }

    @Test func whatAPluginStartsDiesWhenItsHostCrashes() async throws {
        let fixtures = try await PluginFixtures.require()
        let scratch = TemporaryDirectory(prefix: "ipsecsvc-plugin-fork")
        defer { scratch.remove() }
        let marker = scratch.file("helper.pid")
        // Under a path of this test's own, so that the host killed is this test's.
        let plugin = scratch.file("libfixture.so")
        try FileManager.default.createSymbolicLink(atPath: plugin, withDestinationPath: fixtures.fixture)
        let configuration = testConfiguration(path: plugin, options: ["mode": "fork", "state": marker])
        try await withSupervisor(configuration) { supervisor in
            _ = await waitFor(supervisor) { $0.isRunning || $0.isFailed }
            let started = await eventually { Self.helperPID(marker).map(Self.helperRuns) == true }
            let helper = Self.helperPID(marker)
            defer { Self.cleanUp(helper) }
            try #require(started, "the plugin's helper did not start")
            let host = try #require(try pluginHostPIDs(serving: plugin).first)
            kill(host, SIGKILL)
            let gone = await eventually(timeout: .seconds(10)) { !Self.helperRuns(helper!) }
            #expect(gone, "the plugin's helper \(helper!) outlived its crashed host")
        }
    }

    /// A plugin that signals 20,000 changes in a second: at most two fetches a second, and the last
    /// change still arrives (before, every signal was a fetch and a policy change).
    @Test func changeSignalsAreCoalesced() async throws {
        let fixtures = try await PluginFixtures.require()
        let log = RecordingLog()
        let configuration = testConfiguration(path: fixtures.fixture, options: ["mode": "storm"])
        try await withSupervisor(configuration, log: log) { supervisor in
            let clock = ContinuousClock()
            let first = await waitFor(supervisor) { $0.isRunning || $0.isFailed }
            #expect(first.isRunning, "\(first.health)")
            let started = clock.now
            let last = FilterAddress.host(IPv4Address("198.18.7.9")!)
            let calm = await waitFor(supervisor, seconds: 30) {
                $0.store?.filterLists.first?.filters.first?.destination == last
            }
            let elapsed = clock.now - started
            #expect(calm.store != nil)
            let delivered = log.all.filter { $0.message.hasPrefix("delivered") }.count
            let seconds = Double(elapsed.components.seconds) + 1
            #expect(Double(delivered) <= seconds * 2 + 3, "\(delivered) documents in \(elapsed)")
            #expect(calm.store?.filterLists.first?.filters.first?.destination == last, "the last change was lost")
        }
    }
}
