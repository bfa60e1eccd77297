import Foundation
import IPsecTestKit
import PolicyModel
import Providers
import Testing

@testable import Plugins

/// The plugin host end to end: real `ipsecsvc plugin-host` processes, real C and Swift plugins.
/// Serialized: every test spawns processes, and the machine's two cores are shared.
@Suite(.serialized) struct PluginSupervisorTests {
    // MARK: - The examples load, deliver policy and report their kind and rank

    @Test func cExampleServesTheFirstFileOfItsDirectoryAndFollowsChanges() async throws {
        let fixtures = try await PluginFixtures.require()
        let policies = TemporaryDirectory(prefix: "ipsecsvc-xmldir").path
        defer { try? FileManager.default.removeItem(atPath: policies) }
        try PluginFixtures.sampleDocument.write(toFile: policies + "/50-default.xml", atomically: true, encoding: .utf8)
        var configuration = testConfiguration(name: "xmldir", path: fixtures.xmldir, options: ["directory": policies])
        configuration.rank = 90

        try await withSupervisor(configuration) { supervisor in
            let state = await waitFor(supervisor) { $0.isRunning }
            #expect(state.isRunning, "\(state.health)")
            #expect(state.info?.name == "xmldir")
            #expect(state.info?.kind == .directoryLike)
            #expect(state.info?.defaultRank == 150)
            #expect(state.rank == 90)
            #expect(state.store != nil)
            if PluginFixtures.nativeReaderWorks {
                #expect(state.store?.assignedPolicy?.name == "Plugin policy")
            }
            let firstSize = state.documentSize

            // A better-ranked file appears: the plugin's inotify thread signals the change.
            let override = PluginFixtures.sampleDocument.replacingOccurrences(
                of: "Plugin policy",
                with: "Override policy"
            )
            try override.write(toFile: policies + "/10-override.xml", atomically: true, encoding: .utf8)
            let changed = await waitFor(supervisor) { $0.documentSize != firstSize }
            #expect(changed.documentSize == override.utf8.count)
            if PluginFixtures.nativeReaderWorks {
                #expect(changed.store?.assignedPolicy?.name == "Override policy")
            }
        }
    }

    @Test func swiftExampleComputesAPolicyFromItsInventory() async throws {
        let configuration = testConfiguration(
            name: "inventory",
            path: PluginFixtures.inventoryPlugin,
            options: ["inventory": PluginFixtures.inventoryJSON]
        )
        try await withSupervisor(configuration) { supervisor in
            let state = await waitFor(supervisor) { $0.isRunning || $0.isFailed }
            #expect(state.isRunning, "\(state.health)")
            #expect(state.info?.name == "inventory")
            #expect(state.info?.kind == .additive)
            #expect(state.info?.swiftToolchain == PluginInfo.hostSwiftToolchain)
            #expect(state.rank == 500)
            if PluginFixtures.nativeReaderWorks {
                let policy = try #require(state.store?.assignedPolicy)
                #expect(policy.name == "Inventory")
                #expect(policy.rules.map(\.name) == ["Inventory: block", "Inventory: permit"])
            }
        }
    }

    @Test func swiftExampleReportsItsErrorsAsReasons() async throws {
        let configuration = testConfiguration(
            path: PluginFixtures.inventoryPlugin,
            options: ["inventory": "/nonexistent.json"]
        )
        try await withSupervisor(configuration) { supervisor in
            let state = await waitFor(supervisor) { $0.isFailed }
            #expect(state.failureReason == "fetch failed: /nonexistent.json: cannot be read")
        }
    }

    // MARK: - Every failure leaves the other sources running and the failed source without policy

    @Test(
        arguments: [
            ("segfault", "signal 11 (SIGSEGV"),
            ("abort", "signal 6 (SIGABRT"),
            ("hang", "did not answer fetch within 3 s"),
            ("leak", "of the 256 MiB limit"),
            ("malformed", "invalid document"),
            ("huge", "document of 104857600 bytes exceeds the limit of 16777216 bytes"),
            ("invalid", "invalid document"),
            ("error", "fetch failed: inventory server returned HTTP 500"),
            ("open-error", "open failed: cannot reach the inventory server"),
        ]
    )
    func brokenPluginFailsAloneAndIsRestarted(mode: String, reason: String) async throws {
        let fixtures = try await PluginFixtures.require()
        let log = RecordingLog()
        let broken = testConfiguration(
            name: "broken",
            path: fixtures.fixture,
            options: ["mode": mode],
            // Only the hang is found by the timeout. Every other mode must fail for its own reason, however
            // long a loaded machine takes to write 100 MiB (`huge`) or to fill the memory limit (`leak`):
            // with 3 s for all, those were sometimes found hanging instead.
            timeout: mode == "hang" ? .seconds(3) : .seconds(120),
            memoryLimit: mode == "leak" ? 256 << 20 : PluginConfiguration.defaultMemoryLimit
        )
        let healthy = testConfiguration(name: "healthy", path: fixtures.fixture, options: ["mode": "good"])

        // The engine with a local policy and a healthy plugin: what the driver compiles.
        let stateDirectory = TemporaryDirectory(prefix: "ipsecsvc-state").path
        defer { try? FileManager.default.removeItem(atPath: stateDirectory) }
        let engine = SourcesPolicyEngine(
            configuration: SourcesConfiguration(state: StateDirectory(path: stateDirectory), runsTimers: false)
        )
        _ = try await engine.startPersistent()
        _ = try await engine.importPolicies(try PluginMergeTests.localStore(), into: .local, assign: "Local policy")

        try await withSupervisor(healthy) { good in
            let running = await waitFor(good) { $0.isRunning }
            #expect(running.isRunning, "\(running.health)")
            try await engine.register(PluginProvider(supervisor: good, state: running))
            let before = await engine.effectivePolicy().filters
            #expect(before.map(\.provenance.source) == ["local", "plugin:healthy"])

            try await withSupervisor(broken, log: log) { bad in
                let failed = await waitFor(bad) { $0.isFailed }
                let reasonText = try #require(failed.failureReason, "\(failed.health)")
                #expect(reasonText.contains(reason), "\(reasonText)")
                #expect(failed.store == nil)
                try await engine.register(PluginProvider(supervisor: bad, state: failed))

                // The effective policy, and so the driver's table, is unchanged by the broken plugin;
                // the other sources stay applied; status shows the failure and its reason.
                #expect(await engine.effectivePolicy().filters == before)
                let statuses = await engine.sourceStatuses()
                let status = statuses.first { $0.name == "plugin:broken" }
                #expect(status?.state == .failed)
                #expect(status?.reason?.contains(reason) ?? false, "\(String(describing: status))")
                #expect(statuses.first { $0.name == "plugin:healthy" }?.state == .inEffect)
                #expect(statuses.first { $0.name == "local" }?.state == .inEffect)
                // The journal got the reason.
                #expect(
                    log.all.contains {
                        $0.severity == .error && $0.source == "plugin:broken" && $0.reason == reasonText
                    }
                )
                // The host restarts it with backoff.
                let restarted = await waitFor(bad) { $0.restarts >= 1 }
                #expect(restarted.restarts >= 1)
            }
        }
    }

    @Test func aRestartedPluginComesBack() async throws {
        let fixtures = try await PluginFixtures.require()
        let scratch = TemporaryDirectory(prefix: "ipsecsvc-crash-once").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let log = RecordingLog()
        let configuration = testConfiguration(
            path: fixtures.fixture,
            options: ["mode": "crash-once", "state": scratch + "/crashed"]
        )
        try await withSupervisor(configuration, log: log) { supervisor in
            let state = await waitFor(supervisor) { $0.isRunning }
            #expect(state.isRunning, "\(state.health)")
            #expect(state.restarts == 1)
            #expect(state.store != nil)
            #expect(log.all.contains { $0.reason?.contains("SIGSEGV") ?? false })
        }
    }

    @Test func aPluginKilledFromOutsideIsFailedThenComesBack() async throws {
        // The supervisor keeps the last valid policy for diagnostics; the provider reports the failure.
        let fixtures = try await PluginFixtures.require()
        let scratch = TemporaryDirectory(prefix: "ipsecsvc-later").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // The plugin under a path of this test's own: the host serving it is the only process killed
        // (the test process's other children belong to suites running in parallel).
        let plugin = scratch + "/libfixture.so"
        try FileManager.default.createSymbolicLink(atPath: plugin, withDestinationPath: fixtures.fixture)
        let configuration = testConfiguration(path: plugin, options: ["mode": "good"])
        try await withSupervisor(configuration) { supervisor in
            let running = await waitFor(supervisor) { $0.isRunning }
            let store = try #require(running.store)
            // Kill the plugin host from outside, as a crash would.
            let pids = try pluginHostPIDs(serving: plugin)
            #expect(!pids.isEmpty)
            #expect(pids.map { killPluginHost($0, serving: plugin) }.contains(true), "no plugin host was killed")
            let failed = await waitFor(supervisor) { $0.isFailed }
            #expect(failed.failureReason?.contains("signal 9") ?? false, "\(failed.health)")
            #expect(failed.store == store)
            if case .failed(let reason) = PluginProvider.report(for: failed, location: "x") {
                #expect(reason.contains("signal 9"))
            } else {
                Issue.record("a failed plugin must report failed")
            }
            let back = await waitFor(supervisor) { $0.isRunning }
            #expect(back.isRunning)
        }
    }

    @Test func restartsBackOffExponentially() async throws {
        let fixtures = try await PluginFixtures.require()
        let log = RecordingLog()
        var configuration = testConfiguration(path: fixtures.fixture, options: ["mode": "open-error"])
        configuration.restartDelay = .milliseconds(300)
        configuration.restartDelayMax = .milliseconds(1200)
        try await withSupervisor(configuration, log: log) { supervisor in
            _ = await waitFor(supervisor) { $0.restarts >= 4 }
        }
        // The failure messages announce the delays: 0.3, 0.6, 1.2, then capped at 1.2 seconds.
        let delays = log.all.filter { $0.severity == .error }.prefix(4).map { event in
            String(event.message.split(separator: "restarting in ").last ?? "")
        }
        #expect(delays == ["0.3 s", "0.6 s", "1.2 s", "1.2 s"])
    }

    /// A host whose fetch hangs is ended by the supervisor's stop (close, then SIGTERM after 2 s, each
    /// waited for a few seconds), not left running nor waited out: its fetch timeout here is 10 minutes,
    /// and the 2-minute limit is only a hang guard (the stop's own waits stretch on a loaded machine).
    @Test(.timeLimit(.minutes(2))) func stopEndsAHungPluginHost() async throws {
        let fixtures = try await PluginFixtures.require()
        let scratch = TemporaryDirectory(prefix: "ipsecsvc-hang")
        defer { scratch.remove() }
        let hanging = scratch.file("hanging")
        let configuration = testConfiguration(
            path: fixtures.fixture,
            options: ["mode": "hang", "state": hanging],
            timeout: .seconds(600)
        )
        let supervisor = PluginSupervisor(
            configuration: configuration,
            launcher: PluginLauncher(executable: PluginFixtures.ipsecsvc),
            validator: PluginFixtures.validator
        )
        async let supervising: Void = supervisor.run()
        await supervisor.start()
        // The plugin's fetch has started to hang; the file holds its host's PID.
        let host = await Self.hungHostPID(hanging)
        #expect(host != nil, "the fetch did not start to hang")
        await supervisor.stop()
        #expect(await supervisor.state.health == .stopped)
        // Signalled by the stop; its exit may take a moment more on a loaded machine (a hang guard).
        if let host {
            let ended = await eventually(timeout: .seconds(60)) { Self.hasEnded(host) }
            #expect(ended, "the hung host \(host) runs on after the stop")
            // Still running, so still the host this test started: it must not outlive the test.
            if !ended { kill(host, SIGKILL) }
        }
        await supervising
    }

    /// The PID the hanging fixture wrote (a whole line), once it did.
    static func hungHostPID(_ path: String) async -> pid_t? {
        var pid: pid_t?
        _ = await eventually {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            pid = text.hasSuffix("\n") ? pid_t(text.dropLast()) : nil
            return pid != nil
        }
        return pid
    }

    /// Whether process `pid` is gone or a zombie (it has ended; its parent has not reaped it yet).
    static func hasEnded(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return true }
        return stat[stat.index(after: end)...].trimmingPrefix(" ").first == "Z"
    }

    /// The supervisor's background work (the host's events, its timers) runs as children of `run()`:
    /// before `run()` runs the started plugin is not heard, and `stop()` ends `run()` (the task group
    /// below ends only then).
    @Test func theBackgroundWorkRunsAsChildrenOfRun() async throws {
        let fixtures = try await PluginFixtures.require()
        let supervisor = PluginSupervisor(
            configuration: testConfiguration(name: "good", path: fixtures.fixture, options: ["mode": "good"]),
            launcher: PluginLauncher(executable: PluginFixtures.ipsecsvc),
            validator: PluginFixtures.validator
        )
        await supervisor.start()
        try await Task.sleep(for: .milliseconds(500))
        #expect(await supervisor.state.health == .starting)
        await withDiscardingTaskGroup { group in
            group.addTask { await supervisor.run() }
            let running = await waitFor(supervisor) { $0.isRunning }
            #expect(running.isRunning, "\(running.health)")
            await supervisor.stop()
        }
        #expect(await supervisor.state.health == .stopped)
    }

    @Test func aPluginWritingToStdoutCannotCorruptTheProtocol() async throws {
        let fixtures = try await PluginFixtures.require()
        let configuration = testConfiguration(path: fixtures.fixture, options: ["mode": "chatty"])
        try await withSupervisor(configuration) { supervisor in
            let state = await waitFor(supervisor) { $0.isRunning || $0.isFailed }
            #expect(state.isRunning, "\(state.health)")
        }
    }

    @Test func changeCallbackTriggersAFetch() async throws {
        let fixtures = try await PluginFixtures.require()
        let log = RecordingLog()
        let configuration = testConfiguration(path: fixtures.fixture, options: ["mode": "notify"])
        try await withSupervisor(configuration, log: log) { supervisor in
            _ = await waitFor(supervisor) { $0.isRunning }
            // The plugin signals from its own thread 300 ms after open; a second document follows.
            let deadline = ContinuousClock.now + .seconds(60)
            while log.all.filter({ $0.message.hasPrefix("delivered") }).count < 2 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(log.all.filter { $0.message.hasPrefix("delivered") }.count == 2)
        }
    }

    @Test func inProcessIsolationWorksWhenAskedFor() async throws {
        let fixtures = try await PluginFixtures.require()
        let configuration = testConfiguration(path: fixtures.fixture, options: ["mode": "good"], isolation: .inProcess)
        try await withSupervisor(configuration) { supervisor in
            let state = await waitFor(supervisor) { $0.isRunning || $0.isFailed }
            #expect(state.isRunning, "\(state.health)")
            #expect(state.info?.name == "fixture")
        }
    }

    // MARK: - ABI checks come before anything else

    @Test func abiMismatchIsRefusedBeforeOpen() async throws {
        let fixtures = try await PluginFixtures.require()
        #expect {
            _ = try LoadedPlugin.load(path: fixtures.abiVersion2)
        } throws: { error in
            "\(error)".contains("plugin ABI version 2 does not match host ABI version 1")
        }
        #expect {
            _ = try LoadedPlugin.load(path: fixtures.entryV2)
        } throws: { error in
            "\(error)".contains(
                "plugin ABI version 2 (it exports ipsec_plugin_entry_v2) does not match host ABI version 1"
            )
        }

        #expect {
            _ = try LoadedPlugin.load(path: fixtures.otherToolchain)
        } throws: { error in
            "\(error)".contains("Swift plugin built with swift-5.9, this host with \(PluginInfo.hostSwiftToolchain)")
        }

        let configuration = testConfiguration(path: fixtures.abiVersion2)
        try await withSupervisor(configuration) { supervisor in
            let state = await waitFor(supervisor) { $0.isFailed }
            #expect(
                state.failureReason?.contains(
                    "cannot load: \(fixtures.abiVersion2): plugin ABI version 2 does not match host ABI version 1"
                ) ?? false,
                "\(state.health)"
            )
        }
        #expect(!FileManager.default.fileExists(atPath: fixtures.openMarker), "open was called despite the mismatch")
    }

    @Test func missingLibraryFails() async throws {
        let configuration = testConfiguration(path: "/nonexistent/libnothing.so")
        try await withSupervisor(configuration) { supervisor in
            let state = await waitFor(supervisor) { $0.isFailed }
            #expect(
                state.failureReason?.hasPrefix("cannot load: /nonexistent/libnothing.so: dlopen failed:") ?? false,
                "\(state.health)"
            )
        }
    }
}

/// This test process's children that host the plugin at `path` (its last argument), from /proc.
func pluginHostPIDs(serving path: String) throws -> [pid_t] {
    try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap { entry in
        guard let pid = pid_t(entry), isPluginHost(pid, serving: path) else { return nil }
        return pid
    }
}

/// Whether `pid` is, now, a child of this test process running `plugin-host … path`.
private func isPluginHost(_ pid: pid_t, serving path: String) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 1, pid_t(fields[1]) == getpid(),
        let arguments = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)
    else { return false }
    let argv = arguments.split(separator: "\0").map(String.init)
    return argv.contains("plugin-host") && argv.last == path
}

/// SIGKILLs `pid` only if, at the moment of the kill, it is still this test process's plugin host for
/// `path`: the supervisor reaps its hosts itself, so a PID found by the scan may since belong to another
/// process. Where the kernel has pidfds, the process is pinned by a pidfd first, its command line is
/// checked, and the signal goes through the pidfd: a PID reused after the check cannot be hit. Without
/// pidfds the check comes right before kill(2).
/// - Returns: whether the signal was sent.
@discardableResult
private func killPluginHost(_ pid: pid_t, serving path: String) -> Bool {
    typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    typealias PidfdSendSignal = @convention(c) (Int32, Int32, UnsafeMutableRawPointer?, UInt32) -> Int32
    let libc = dlopen(nil, RTLD_NOW)
    defer { if let libc { dlclose(libc) } }
    if let libc, let openSymbol = dlsym(libc, "pidfd_open"), let sendSymbol = dlsym(libc, "pidfd_send_signal") {
        let pidfd = unsafeBitCast(openSymbol, to: PidfdOpen.self)(pid, 0)
        if pidfd >= 0 {
            defer { close(pidfd) }
            guard isPluginHost(pid, serving: path) else { return false }
            return unsafeBitCast(sendSymbol, to: PidfdSendSignal.self)(pidfd, SIGKILL, nil, 0) == 0
        }
        // ESRCH: the process is gone; ENOSYS and others: fall back to kill(2) below.
        if errno == ESRCH { return false }
    }
    guard isPluginHost(pid, serving: path) else { return false }
    return kill(pid, SIGKILL) == 0
}

@Suite(.serialized) struct PluginManagerTests {
    @Test func startsEnabledPluginsAndReportsEveryFile() async throws {
        let fixtures = try await PluginFixtures.require()
        let directory = TemporaryDirectory(prefix: "ipsecsvc-manager").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "path = \(fixtures.fixture)\nenabled = yes\nrank = 7\noption.mode = good\n"
            .write(toFile: directory + "/good.conf", atomically: true, encoding: .utf8)
        try "path = \(fixtures.fixture)\nenabled = yes\noption.mode = segfault\nrestart-delay = 30\n"
            .write(toFile: directory + "/crashing.conf", atomically: true, encoding: .utf8)
        try "path = \(fixtures.fixture)\n".write(
            toFile: directory + "/disabled.conf",
            atomically: true,
            encoding: .utf8
        )
        try "path = \(fixtures.fixture)\nenabled = yes\nranking = 3\n"
            .write(toFile: directory + "/typo.conf", atomically: true, encoding: .utf8)
        let log = RecordingLog()
        let manager = PluginManager(
            configurationDirectory: directory,
            launcher: PluginLauncher(executable: PluginFixtures.ipsecsvc),
            validator: PluginFixtures.validator,
            log: log.sink
        )
        async let managing: Void = manager.run()
        let supervisors = await manager.start()
        #expect(supervisors.map(\.configuration.name) == ["crashing", "good"])
        for supervisor in supervisors {
            _ = await waitFor(supervisor) { $0.isRunning || $0.isFailed }
        }
        let statuses = await manager.statuses()
        await manager.stop()
        await managing

        let byName = Dictionary(uniqueKeysWithValues: statuses.map { ($0.name, $0) })
        #expect(byName.keys.sorted() == ["plugin:crashing", "plugin:good", "plugin:typo"])
        #expect(byName["plugin:good"]?.state == .inEffect)
        #expect(byName["plugin:crashing"]?.state == .failed)
        #expect(byName["plugin:crashing"]?.reason?.contains("SIGSEGV") ?? false)
        #expect(byName["plugin:typo"]?.state == .failed)
        #expect(
            byName["plugin:typo"]?.reason == "\(directory)/typo.conf:3: unknown key \"ranking\" (known: name, path, "
                + "enabled, rank, isolation, timeout, poll-interval, restart-delay, restart-delay-max, max-document-size, "
                + "memory-limit, option.NAME)"
        )
        #expect(log.all.contains { $0.source == "plugin:typo" && $0.severity == .error })
    }
}
