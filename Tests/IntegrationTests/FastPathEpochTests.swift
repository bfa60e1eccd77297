import Foundation
import IPsecTestKit
import PolicyModel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 17 item 2: fast-path marks never outlive the policy that set them. A TCP connection to port 23
/// is fast-pathed (its conntrack mark carries the table's epoch) while nothing blocks it; then a policy
/// blocks 23 — across a graceful stop, across `kill -9` of both processes, and after the 12-bit epoch
/// wraps (here a 2-bit field) — and the old connection must stall for good. Before, every start ended on
/// the same epoch and a wrap reused one without forgetting its marks: the connection went on. Root only.
@Suite(.serialized, .requires(DriverTestEnvironment.requirement))
struct FastPathEpochTests {
    /// The driver's saved state is gone too (removed by hand, or a `/run` emptied while conntrack kept
    /// its entries): the new driver starts its epochs from the beginning, where the old mark is.
    @Test(.timeLimit(.minutes(5))) func aGracefulStopThenANewPolicyStopsAFastPathedConnection() async throws {
        try await withStreamThroughARestart { net, service in
            try await service.stop()
            try? FileManager.default.removeItem(atPath: "\(net.directory)/driver-table")
        }
    }

    @Test(.timeLimit(.minutes(5))) func killingBothProcessesThenANewPolicyStopsAFastPathedConnection() async throws {
        try await withStreamThroughARestart { net, service in
            let driver = try #require(await service.driverPID())
            service.agent.signalIfRunning(SIGKILL)
            service.kill(driver)
            for _ in 0..<200 where kill(driver, 0) == 0 { try await Task.sleep(for: .milliseconds(10)) }
        }
    }

    /// Runs the service without policy, opens a stream to 23, ends the service with `end`, imports the
    /// policy that blocks 23 and starts the service again: the stream must stall and stay stalled.
    func withStreamThroughARestart(
        _ end: (DriverNetwork, ServiceUnderTest) async throws -> Void
    ) async throws {
        try await DriverNetwork.withNetwork { net in
            try net.echo(23)
            let config = try net.writeServiceConfiguration()
            let service = try await ServiceUnderTest(net, config: config)
            let stream = try StreamWatch(net, port: 23)
            try await stream.wait(for: "flowing", seconds: 20)
            try await Task.sleep(for: .milliseconds(300))
            try await end(net, service)
            // Nothing blocks it now: permit after a graceful stop, the kernel's fast path after a kill.
            #expect(stream.last == "flowing", "\(stream.text)")
            try await net.importBlockTelnet(config: config)
            let again = try await ServiceUnderTest(net, config: config)
            try await stream.wait(for: "stalled", seconds: 10)
            try await Task.sleep(for: .seconds(4))
            #expect(stream.last == "stalled", "the fast-pathed connection came back: \(stream.text)\n\(again.logs)")
            try await again.stop()
        }
    }

    /// The harness with a 2-bit epoch field (epochs 1–3): the connection marked under epoch e is blocked
    /// by the next table, then two more tables bring the epoch back to e. It must stay stalled.
    @Test(.timeLimit(.minutes(5))) func anEpochWrapDoesNotBringAnOldConnectionBack() async throws {
        try await DriverNetwork.withNetwork { net in
            try net.echo(23)
            let driver = try await RunningDriver.start(
                net,
                policy: TestPolicy.policy([]),
                extra: ["--flow-mask", "0x30000"]
            )
            let stream = try StreamWatch(net, port: 23)
            try await stream.wait(for: "flowing", seconds: 20)
            try await Task.sleep(for: .milliseconds(300))
            let block = TestPolicy.rule(1, .any, .me, TestPolicy.action(.block), proto: 6, dport: 23)
            _ = try await driver.change(to: TestPolicy.policy([block], generation: 2), generation: 2)
            try await stream.wait(for: "stalled", seconds: 10)
            for generation in 3...4 {
                _ = try await driver.change(
                    to: TestPolicy.policy([block], generation: UInt64(generation)),
                    generation: generation
                )
            }
            try await Task.sleep(for: .seconds(4))
            #expect(stream.last == "stalled", "the connection came back after the wrap: \(stream.text)")
            let counters = try await driver.counters()
            #expect((counters["table.epoch"] ?? 0) <= 3, "\(counters)")
            try await driver.stop()
        }
    }
}

extension FastPathEpochTests {
    /// Issue 16 item 2: a policy change moves the fast-path rules to the new epoch in place (one
    /// nf_tables transaction, no `iptables-restore`): both chains name the new epoch, the other rules of
    /// the chains keep their packet counters (writing the chains whole starts them again from 0), and
    /// the running connection is decided again by the new table and goes on.
    @Test(.timeLimit(.minutes(5))) func aPolicyChangeMovesTheFastPathRuleInPlace() async throws {
        try await DriverNetwork.withNetwork { net in
            try net.echo(23)
            // Blocked echo requests: each one is queued (and counted by the queue rule), none fast-pathed.
            let blockPing = TestPolicy.rule(2, .any, .me, TestPolicy.action(.block), proto: 1)
            let driver = try await RunningDriver.start(net, policy: TestPolicy.policy([blockPing]))
            let stream = try StreamWatch(net, port: 23)
            try await stream.wait(for: "flowing", seconds: 20)
            #expect(await !net.pings(from: net.peer, to: net.hostAddress, count: 6, timeoutMs: 100))
            let before = try await Self.queueRuleCounter(net)
            #expect(before >= 6)
            let epoch = try await driver.counters()["table.epoch"] ?? 0
            // The start wrote the chains whole (there were none to move); the change must not.
            let wholeAtStart = driver.logText().components(separatedBy: "written whole").count
            let permit = TestPolicy.rule(1, .any, .me, TestPolicy.action(.permit), proto: 6, dport: 23)
            _ = try await driver.change(to: TestPolicy.policy([blockPing, permit], generation: 2), generation: 2)
            let next = try await driver.counters()["table.epoch"] ?? 0
            #expect(next == epoch + 1)
            let rules = await sh("ip netns exec \(net.host) iptables-save -t mangle").output
            let mark = "--mark 0x\(String(next << 16, radix: 16))/0xfff0000 -j ACCEPT"
            #expect(rules.components(separatedBy: mark).count == 3, "\(rules)")
            #expect(try await Self.queueRuleCounter(net) >= before)
            #expect(
                driver.logText().components(separatedBy: "written whole").count == wholeAtStart,
                "\(driver.logText())"
            )
            try await Task.sleep(for: .milliseconds(500))
            #expect(stream.last == "flowing", "\(stream.text)")
            try await driver.stop()
        }
    }

    /// Packets the inbound queue rule has counted.
    static func queueRuleCounter(_ net: DriverNetwork) async throws -> UInt64 {
        let saved = await sh("ip netns exec \(net.host) iptables-save -c -t mangle").output
        let line = try #require(
            saved.split(separator: "\n").first { $0.contains("-A IPSECSVC-IN") && $0.contains("NFQUEUE") },
            "\(saved)"
        )
        let counters = line.dropFirst().prefix { $0 != "]" }.split(separator: ":")
        return UInt64(counters.first ?? "") ?? 0
    }
}

/// The harness's `stream` in the peer namespace: one TCP connection that is never replaced.
final class StreamWatch {
    private let output: String

    init(_ net: DriverNetwork, port: Int) throws {
        output = "\(net.directory)/stream-\(port).out"
        _ = try net.spawn(
            net.peer,
            [DriverTestEnvironment.harnessPath, "stream", "\(net.hostAddress):\(port)"],
            output: output
        )
    }

    var text: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

    /// `flowing` or `stalled`, from the last line.
    var last: String? {
        text.split(separator: "\n").last.flatMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
    }

    func wait(for state: String, seconds: Double) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if last == state { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("the stream is not \(state): \(text)")
    }
}
