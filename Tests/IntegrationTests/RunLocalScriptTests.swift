import Foundation
import IPsecTestKit
import Testing

/// The README's first command (`scripts/run-local.sh`): it starts the service with the netfilter driver
/// in a namespace of its own, the three commands it prints do what it says (telnet blocked, http
/// allowed, explain names the blocking filter), and `stop` leaves no namespace and no process behind.
/// Run with this test's namespace name, state directory and built binary, and without the package
/// check (CI installed everything before the tests; `swift build` would wait for the test's own lock).
@Suite(.serialized, .requires(DriverTestEnvironment.requirement))
struct RunLocalScriptTests {
    @Test func startsTheDemoPrintsCommandsThatWorkAndStopLeavesNothing() async throws {
        let state = TemporaryDirectory(prefix: "ipsecsvc-demo")
        defer { state.remove() }
        let demo = "ipsdemo-\(getpid())"
        let script = TestPackages.repository + "/scripts/run-local.sh"
        let environment =
            "IPSECSVC_DEMO=\(demo) IPSECSVC_STATE_DIR=\(state.path) IPSECSVC_BIN=\(ServiceHarness.executable) IPSECSVC_NO_INSTALL=1"
        let inRepository = "cd \(TestPackages.repository) && \(environment)"
        defer {
            // Whatever happened: the script's own stop, then the namespaces themselves.
            let cleanup =
                "\(inRepository) \(script) stop >/dev/null 2>&1; ip netns del \(demo) 2>/dev/null; ip netns del \(demo)-peer 2>/dev/null"
            Thread { _ = system(cleanup) }.start()
        }

        let started = await sh("\(inRepository) \(script) 2>&1")
        try #require(started.status == 0, "\(started.output)")
        let commands = started.output.split(separator: "\n").filter { $0.hasPrefix("  ") }.map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        try #require(commands.count == 3, "three commands to paste:\n\(started.output)")
        let blocked = commands[0]
        let allowed = commands[1]
        let explain = commands[2]
        #expect(blocked.hasSuffix(" 23") && allowed.hasSuffix(" 80"), "\(commands)")
        #expect(explain.contains("ipsecsvc explain"), "\(explain)")
        // Nothing on the host: the driver's rules are in the demo's namespace (no test runs the driver
        // in the root namespace).
        #expect(!(await sh("iptables-save").output.contains("IPSECSVC")))
        let pids = await sh("ip netns pids \(demo)").output.split(separator: "\n").compactMap { pid_t($0) }
        #expect(pids.count >= 3, "the service and two servers run in \(demo)")

        // Pasted as printed, from the repository (where the README's commands run).
        let telnet = await sh("cd \(TestPackages.repository) && \(blocked) 2>&1")
        #expect(telnet.status != 0 && telnet.output.contains("timed out"), "telnet is blocked: \(telnet.output)")
        let http = await sh("cd \(TestPackages.repository) && \(allowed) 2>&1")
        #expect(http.status == 0 && http.output.contains("succeeded"), "http is allowed: \(http.output)")
        let explained = await sh("cd \(TestPackages.repository) && \(explain) 2>&1")
        #expect(explained.status == 0, "\(explained.output)")
        let verdicts = explained.output.components(separatedBy: "Packet: ").dropFirst()
        #expect(verdicts.count == 2, "\(explained.output)")
        if verdicts.count == 2 {
            let first = verdicts[verdicts.startIndex]
            let second = verdicts[verdicts.startIndex + 1]
            #expect(
                first.contains(":23 TCP") && first.contains("Verdict: block") && first.contains("Block Telnet and SMB")
            )
            #expect(second.contains(":80 TCP") && second.contains("Verdict: permit"))
        }
        #expect(await sh("ip netns exec \(demo) iptables-save").output.contains("IPSECSVC-IN"))

        let stopped = await sh("\(inRepository) \(script) stop 2>&1")
        #expect(stopped.status == 0, "\(stopped.output)")
        let namespaces = await sh("ip netns list").output
        #expect(!namespaces.contains(demo), "stop removes both namespaces: \(namespaces)")
        let gone = await eventually(timeout: .seconds(10)) {
            pids.allSatisfy { !FileManager.default.fileExists(atPath: "/proc/\($0)/cmdline") || Self.isZombie($0) }
        }
        #expect(gone, "stop leaves none of the demo's processes")
    }

    /// A process that has exited but was not reaped yet (the script's background servers are reparented).
    static func isZombie(_ pid: pid_t) -> Bool {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return status.contains("State:\tZ")
    }
}
