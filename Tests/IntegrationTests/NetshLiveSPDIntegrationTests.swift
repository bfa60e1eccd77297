import Foundation
import IPsecTestKit
import Testing

/// `netsh ipsec dynamic show` on the running service lists the SPD in force from every source (issue 12
/// item 4): a persistent policy, a local policy and a dynamic rule each block a port, and the listing
/// names all three with their sources, expands `me` to the address the driver uses, and marks the
/// dynamic rule. Root only: the real service with the netfilter driver in a test namespace.
@Suite(.serialized, .requires(DriverTestEnvironment.requirement))
struct NetshLiveSPDIntegrationTests {
    @Test func showListsPersistentLocalAndDynamicFiltersInForce() async throws {
        try await DriverNetwork.withNetwork(run)
    }

    func run(_ net: DriverNetwork) async throws {
        let executable = DriverServiceIntegrationTests.executable
        let config = try net.writeServiceConfiguration()
        func netsh(_ words: String) async -> Outcome {
            await sh("\(executable) netsh --config \(config) \(words)")
        }
        // Before the start: SMTP blocked by the persistent policy, telnet by the local one.
        let script = "\(net.directory)/stores.netsh"
        try """
        pushd ipsec static
        set store location=persistent
        add policy name=Boot assign=yes
        add filteraction name=BlockSMTP action=block
        add filter filterlist=SMTP srcaddr=any dstaddr=me protocol=TCP dstport=25
        add rule name=NoSMTP policy=Boot filterlist=SMTP filteraction=BlockSMTP
        set store location=local
        add policy name=Web assign=yes
        add filteraction name=BlockTelnet action=block
        add filter filterlist=Telnet srcaddr=any dstaddr=me protocol=TCP dstport=23
        add rule name=NoTelnet policy=Web filterlist=Telnet filteraction=BlockTelnet
        popd
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let stores = await netsh("-f \(script)")
        #expect(stores.status == 0, "\(stores.output)")
        for port in [22, 23, 24, 25] { try net.listen(port) }
        let service = try await net.startService(executable, config: config, name: "service")
        defer { service.signalIfRunning(SIGTERM) }
        // The service answers netsh once it has started (the queue is bound a moment earlier).
        var answered = false
        for _ in 0..<100 where !answered {
            answered = await netsh("ipsec dynamic add mmpolicy name=MM").status == 0
            if !answered { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(answered)
        let rule = await netsh(
            "ipsec dynamic add rule srcaddr=\(net.peerAddress) dstaddr=me protocol=tcp dstport=22 mmpolicy=MM actioninbound=block actionoutbound=block"
        )
        #expect(rule.status == 0, "\(rule.output)")

        // What the listing says is what the driver does.
        #expect(await net.blocked(from: net.peer, to: net.hostAddress, port: 25))
        #expect(await net.blocked(from: net.peer, to: net.hostAddress, port: 23))
        #expect(await net.blocked(from: net.peer, to: net.hostAddress, port: 22))
        #expect(await net.connects(from: net.peer, to: net.hostAddress, port: 24))

        let generic = await netsh("ipsec dynamic show qmfilter all")
        #expect(generic.status == 0, "\(generic.output)")
        #expect(generic.output.contains("Policy Source           : persistent policy \"Boot\""), "\(generic.output)")
        #expect(generic.output.contains("Policy Source           : local policy \"Web\""))
        #expect(generic.output.contains("Policy Source           : dynamic"))
        for port in [22, 23, 25] { #expect(generic.output.contains("Destination Port        : \(port)")) }

        // Specific: `me` is the driver's address in this namespace, one filter per direction.
        let specific = await netsh("ipsec dynamic show qmfilter type=specific")
        #expect(
            specific.output.contains("Destination Address     : \(net.hostAddress) (255.255.255.255)"),
            "\(specific.output)"
        )
        #expect(specific.output.contains("Source Address          : \(net.peerAddress) (255.255.255.255)"))
        #expect(!specific.output.contains("<My IP Address>"))
        #expect(specific.output.contains("Direction               : Inbound"))
        #expect(specific.output.contains("Direction               : Outbound"))

        let rules = await netsh("ipsec dynamic show rule")
        #expect(rules.output.contains("Rule Name               : NoSMTP"), "\(rules.output)")
        #expect(rules.output.contains("Rule Name               : NoTelnet"))
        #expect(rules.output.contains("Dynamic                 : YES"))
        #expect(rules.output.contains("Dynamic                 : NO"))

        let all = await netsh("ipsec dynamic show all")
        #expect(all.output.contains("persistent policy \"Boot\"") && all.output.contains("local policy \"Web\""))
        #expect(!all.output.contains("There are no quick mode filters"))
    }
}
