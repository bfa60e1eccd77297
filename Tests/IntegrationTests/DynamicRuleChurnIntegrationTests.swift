import Foundation
import IPsecTestKit
import Testing

/// A dynamic rule keeps blocking while other dynamic rules are added and deleted around it: each
/// netsh dynamic command replaces the dynamic rules as one value and the driver swaps in one table
/// per change, so no table in between lacks the blocking rule (issue 17). Root only: the real
/// service with the netfilter driver in a test namespace.
@Suite(.serialized, .requires(DriverTestEnvironment.requirement))
struct DynamicRuleChurnIntegrationTests {
    @Test func blockedPortStaysBlockedWhileOtherDynamicRulesChange() async throws {
        try await DriverNetwork.withNetwork(run)
    }

    func run(_ net: DriverNetwork) async throws {
        let service = DriverServiceIntegrationTests()
        let config = try service.configure(net)
        let running = try await service.startService(net, config: config, name: "service")
        defer { running.signalIfRunning(SIGTERM) }
        func netsh(_ words: String) async -> Outcome {
            await sh("\(DriverServiceIntegrationTests.executable) netsh --config \(config) ipsec dynamic \(words)")
        }
        // A UDP listener that records every datagram; TCP on 23 accepts repeatedly.
        let received = "\(net.directory)/udp-24.log"
        _ = try net.spawn(net.host, ["nc", "-lku", "24"], output: received)
        try net.listen(23)
        // The detection works: without a rule, datagrams and connections get through.
        #expect(await net.connects(from: net.peer, to: net.hostAddress, port: 23))
        #expect(await datagramsArrive(net, log: received))

        #expect(await netsh("add mmpolicy name=MM").status == 0)
        for (protocolName, port) in [("tcp", 23), ("udp", 24)] {
            let added = await netsh(
                "add rule srcaddr=any dstaddr=\(net.hostAddress) protocol=\(protocolName) dstport=\(port) mmpolicy=MM actioninbound=block actionoutbound=block"
            )
            #expect(added.status == 0, "\(added.output)")
        }
        #expect(await net.blocked(from: net.peer, to: net.hostAddress, port: 23))
        let before = lineCount(received)

        // Probes until the churn ends: a datagram to UDP 24 every 2 ms and a TCP connect to 23 every
        // 20 ms (each given up after 0.3 s), from the peer. `timeout` sends SIGKILL: the test process's
        // children inherit its blocked SIGTERM, and a connect whose SYN is dropped would otherwise wait
        // for TCP's own timeout (about two minutes), leaving one probe for the whole churn.
        let stop = "\(net.directory)/stop-probes"
        let udp = Task {
            await sh(
                "ip netns exec \(net.peer) bash -c 'i=0; while [ ! -e \(stop) ]; do i=$((i+1)); echo churn-$i > /dev/udp/\(net.hostAddress)/24; sleep 0.002; done; echo sent=$i'"
            )
        }
        let tcp = Task {
            await sh(
                "ip netns exec \(net.peer) bash -c 'while [ ! -e \(stop) ]; do echo TRY; timeout -s KILL 0.3 bash -c \"exec 3<>/dev/tcp/\(net.hostAddress)/23\" 2>/dev/null && echo CONNECTED; sleep 0.02; done'"
            )
        }
        // Meanwhile unrelated dynamic rules are added and deleted every 100 ms (or as fast as netsh
        // runs on a loaded machine): at least 40 changes and at least 8 seconds.
        var churned = 0
        let clock = ContinuousClock()
        let started = clock.now
        var failures: [String] = []
        while churned < 40 || clock.now - started < .seconds(8) {
            let tick = clock.now
            churned += 1
            let add = await netsh(
                "add rule srcaddr=198.19.1.\(churned % 250 + 1) dstaddr=any protocol=udp dstport=\(5000 + churned) mmpolicy=MM actioninbound=block actionoutbound=block"
            )
            if add.status != 0 { failures.append(add.output) }
            if churned > 1 {
                let previous = churned - 1
                let delete = await netsh(
                    "delete rule srcaddr=198.19.1.\(previous % 250 + 1) dstaddr=any protocol=udp dstport=\(5000 + previous)"
                )
                if delete.status != 0 { failures.append(delete.output) }
            }
            try await Task.sleep(until: tick + .milliseconds(100), clock: clock)
        }
        _ = FileManager.default.createFile(atPath: stop, contents: nil)
        let udpDone = await udp.value
        let tcpDone = await tcp.value
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(udpDone.status == 0, "\(udpDone.output)")
        let leakedDatagrams = lineCount(received) - before
        let leakedConnections = tcpDone.output.components(separatedBy: "CONNECTED").count - 1
        // The TCP probe ran all along, not once (at least one connect per second of churn).
        let tcpProbes = tcpDone.output.components(separatedBy: "TRY").count - 1
        #expect(tcpProbes >= 8, "only \(tcpProbes) TCP probes ran during the churn")
        #expect(
            leakedDatagrams == 0,
            "\(leakedDatagrams) datagrams to the blocked UDP port arrived (\(2 * churned - 1) rule changes)"
        )
        #expect(leakedConnections == 0, "\(leakedConnections) connections to the blocked TCP port completed")
        let sent = udpDone.output.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        print(
            "dynamic churn: \(2 * churned - 1) rule changes in \(clock.now - started); UDP datagrams sent \(sent ?? "?"), through \(leakedDatagrams); TCP connects tried \(tcpProbes), completed \(leakedConnections)"
        )
    }

    /// Sends datagrams until one is recorded by the listener (it may need a moment to bind).
    func datagramsArrive(_ net: DriverNetwork, log: String) async -> Bool {
        for attempt in 0..<50 {
            await sh("ip netns exec \(net.peer) bash -c 'echo probe-\(attempt) > /dev/udp/\(net.hostAddress)/24'")
            if lineCount(log) > 0 { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func lineCount(_ path: String) -> Int {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").count
    }
}
