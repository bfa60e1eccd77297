import Foundation
import IPsecTestKit
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The whole service (`ipsecsvc run`, `driver = netfilter`) in a network namespace whose loopback is
/// down, as in early boot or a fresh container: it reaches READY (a `NOTIFY_SOCKET` the test owns), and
/// SIGTERM during the start or during a policy change ends it cleanly — exit 0, no crash report,
/// within 5 seconds of its own time (not counting what a loaded machine made it wait for a CPU), the
/// kernel hooks gone. Root only.
@Suite(.serialized, .requires(DriverTestEnvironment.requirement))
struct ServiceNamespaceStopTests {
    /// How long a stop may take.
    static let stopLimit = 5.0

    @Test(.timeLimit(.minutes(3))) func readyWithLoopbackDownThenStopsCleanly() async throws {
        let space = try await BareNamespace()
        defer { space.teardown() }
        let sandbox = try ServiceSandbox(driver: "netfilter")
        defer { sandbox.remove() }
        #expect(await sh("ip -n \(space.name) -o link show lo").output.contains("state DOWN"))
        let listener = try NotifyListener(path: sandbox.root + "/notify.sock")
        let service = try space.run(sandbox, notify: listener.path)
        defer { service.terminate() }

        var pings = 0
        #expect(await listener.nextNonWatchdog(pings: &pings) == "STATUS=Starting: applying the persistent policy")
        let ready = await listener.nextNonWatchdog(timeout: 60, pings: &pings)
        #expect(ready?.hasPrefix("READY=1\nSTATUS=driver in secure mode") == true, "log:\n\(service.output)")
        #expect(await space.hooksInstalled())

        try await stopsCleanly(service, space: space, within: Self.stopLimit)
        #expect(await listener.nextNonWatchdog(pings: &pings)?.hasPrefix("STOPPING=1") == true)
    }

    /// SIGTERM as soon as the service says it is starting: the start (hook tools running) is cancelled,
    /// the driver goes to permit mode, and the process exits 0.
    @Test(.timeLimit(.minutes(3))) func sigtermDuringTheStartStopsCleanly() async throws {
        let space = try await BareNamespace()
        defer { space.teardown() }
        var stoppedWhileStarting = 0
        for _ in 0..<3 {
            let sandbox = try ServiceSandbox(driver: "netfilter")
            defer { sandbox.remove() }
            let listener = try NotifyListener(path: sandbox.root + "/notify.sock")
            let service = try space.run(sandbox, notify: listener.path)
            defer { service.terminate() }
            var pings = 0
            let starting = await listener.nextNonWatchdog(pings: &pings)
            #expect(starting == "STATUS=Starting: applying the persistent policy", "log:\n\(service.output)")
            try await stopsCleanly(service, space: space, within: Self.stopLimit)
            let log = service.output
            #expect(!log.contains("failed to start"), "log:\n\(log)")
            if log.contains("was stopped while it was starting") { stoppedWhileStarting += 1 }
        }
        // The start spawns several hook tools: a SIGTERM sent at its first line lands inside it.
        #expect(stoppedWhileStarting > 0)
    }

    /// A `directory_check` that hangs (run by the directory source's timer, after READY) is killed when
    /// the service stops: the stop does not wait for it, and it does not outlive the service.
    @Test(.timeLimit(.minutes(3))) func sigtermWhileADirectoryCheckHangsStopsCleanly() async throws {
        let space = try await BareNamespace()
        defer { space.teardown() }
        let check = HangingDirectoryCheck(seconds: 600)
        defer { check.remove() }
        let sandbox = try ServiceSandbox(extraConfig: check.config, driver: "netfilter")
        defer { sandbox.remove() }
        let listener = try NotifyListener(path: sandbox.root + "/notify.sock")
        let service = try space.run(sandbox, notify: listener.path)
        defer { service.terminate() }

        let ran = await eventually(timeout: .seconds(60)) { check.pid() != nil }
        #expect(ran, "the check never ran; log:\n\(service.output)")
        let checkPID = try #require(check.pid(), "no pid line from the check")

        try await stopsCleanly(service, space: space, within: Self.stopLimit)
        #expect(await eventually(timeout: .seconds(10)) { kill(checkPID, 0) != 0 }, "the check still runs")
    }

    /// SIGTERM while a policy change is applied (an import makes the driver rewrite its hooks): a clean
    /// stop every time, and the hooks the change was writing do not outlive it.
    @Test(.timeLimit(.minutes(5))) func sigtermDuringAPolicyChangeStopsCleanly() async throws {
        let space = try await BareNamespace()
        defer { space.teardown() }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let policy = repository.appendingPathComponent("policies-xml/block-telnet-smb.xml").path
        for delay in [0, 30, 120] {
            let sandbox = try ServiceSandbox(driver: "netfilter")
            defer { sandbox.remove() }
            let listener = try NotifyListener(path: sandbox.root + "/notify.sock")
            let service = try space.run(sandbox, notify: listener.path)
            defer { service.terminate() }
            var pings = 0
            _ = await listener.nextNonWatchdog(pings: &pings)
            let ready = await listener.nextNonWatchdog(timeout: 60, pings: &pings)
            #expect(ready?.hasPrefix("READY=1") == true, "log:\n\(service.output)")

            let imported = try await sandbox.execute(
                ["policy", "import", policy, "--assign", "Block Telnet and SMB"] + sandbox.commonArguments
            )
            #expect(imported.status == 0, "\(imported.output)")
            try await Task.sleep(for: .milliseconds(delay))
            try await stopsCleanly(service, space: space, within: Self.stopLimit)
        }
    }

    /// SIGTERM, then: exit 0 within `seconds` of the stop's own time, no crash report in the output, no
    /// hook left behind. The stop's own time is its wall time from the signal to the exit, seen by a
    /// thread that does nothing else, less the time the service and its children (the driver, hook tools)
    /// were runnable but waited for a CPU: on a loaded two-core machine that wait alone can exceed the
    /// limit, while a stop that waits for a timeout or hangs is not runnable then and keeps that time.
    private func stopsCleanly(_ service: ServiceProcess, space: BareNamespace, within seconds: Double) async throws {
        let stop = await service.signalAndMeasure(SIGTERM, timeout: 120)
        let log = service.output
        let measured = try #require(stop, "no exit within 120 s of SIGTERM; log:\n\(log)")
        print("ServiceNamespaceStopTests: \(measured)")
        #expect(measured.status == 0, "log:\n\(log)")
        #expect(measured.own < .seconds(seconds), "the stop took \(measured); log:\n\(log)")
        for crash in ["Fatal error", "Program crashed", "Cancellation took longer"] {
            #expect(!log.contains(crash), "log:\n\(log)")
        }
        #expect(!(await space.hooksInstalled()), "hooks left after the stop")
    }
}

/// A network namespace of the test's own with nothing configured: loopback stays down.
final class BareNamespace: Sendable {
    let name: String
    private static let counter = Atomic<Int>(0)

    init() async throws {
        let index = Self.counter.add(1, ordering: .relaxed).newValue
        name = "ipslo-\(getpid())-\(index)"
        await Self.removeStale()
        let made = await sh("ip netns add \(name)")
        guard made.status == 0 else { throw TestFailure("ip netns add \(name): \(made.output)") }
    }

    /// `ipsecsvc run` inside the namespace (`ip netns exec` execs it: the PID is the service's).
    func run(_ sandbox: ServiceSandbox, notify: String) throws -> ServiceProcess {
        try ServiceProcess(
            ["ip", "netns", "exec", name, ServiceHarness.executable, "run"] + sandbox.commonArguments,
            environment: ["NOTIFY_SOCKET": notify],
            output: sandbox.logPath
        )
    }

    /// Whether the service's chains are in the namespace's ruleset.
    func hooksInstalled() async -> Bool {
        await sh("ip netns exec \(name) iptables-save; ip netns exec \(name) ip6tables-save").output.contains(
            "IPSECSVC"
        )
    }

    /// Kills what still runs in the namespace (only the test's processes run there) and deletes it.
    func teardown() {
        let name = name
        Thread {
            let script = "for p in $(ip netns pids \(name) 2>/dev/null); do kill -9 $p; done; ip netns del \(name)"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", script]
            try? process.run()
            process.waitUntilExit()
        }.start()
    }

    /// Namespaces of earlier test processes that died before their teardown.
    static func removeStale() async {
        await sh(
            """
            for ns in $(ip netns list | awk '/^ipslo-/ {print $1}'); do
                owner=${ns#ipslo-}; owner=${owner%%-*}
                if [ "$owner" != "\(getpid())" ] && ! kill -0 "$owner" 2>/dev/null; then
                    for p in $(ip netns pids $ns 2>/dev/null); do kill -9 $p 2>/dev/null; done
                    ip netns del $ns 2>/dev/null
                fi
            done
            """
        )
    }
}
