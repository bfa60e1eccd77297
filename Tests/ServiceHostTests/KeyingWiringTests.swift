import DecisionCore
import IPsecTestKit
import Keying
import PolicyModel
import Providers
import ServiceHost
import Testing

@Suite struct KeyingWiringTests {
    @Test func agentDrivesKeyingAndForwardsItsPeerViewToTheDriver() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let driver = InMemoryDriver()
        let keying = RecordingKeying()
        let agent = PolicyAgent(
            driver: driver,
            engine: TestEngine.make(in: directory),
            keying: keying,
            journal: RecordingJournal(),
            startType: .automatic,
            settings: DynamicSettings()
        )
        // The forwarding is structured work of its caller (the `run` process's group runs it as a
        // `Service`): it ends by itself when the agent's stop stops keying, nobody cancels it.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await agent.forwardPeerAssociations() }
            try await agent.start()
            #expect(await keying.started)
            #expect(await keying.applied == [0])
            let peer = IPv4Address("198.18.9.2")!
            await keying.publish(PeerAssociations(softPeers: [peer]))
            #expect(await eventually { await driver.peerAssociations.softPeers == [peer] })
            let report = await agent.status(pid: 1)
            #expect(report.keying?.viciSocket == "/test/charon.vici")
            try await agent.stop()
            #expect(await keying.stopped)
            try await group.waitForAll()
        }
    }

    @Test func configurationKeys() throws {
        let configuration = try ServiceConfiguration.parse(
            """
            ike = strongswan
            ike_vici_socket = /run/test/charon.vici
            ike_datapath = libipsec
            ike_libipsec_interface = ipsec7
            ike_ca_dir = /etc/ipsecsvc/ca
            ike_cert_dir = /etc/ipsecsvc/certs
            """,
            path: "/test/ipsecsvc.conf"
        )
        let settings = try #require(configuration.keyingSettings)
        #expect(settings.viciSocket == "/run/test/charon.vici")
        #expect(settings.datapath == .libipsec)
        #expect(settings.libipsecInterface == "ipsec7")
        #expect(settings.caDirectory == "/etc/ipsecsvc/ca")
        #expect(settings.certificateDirectory == "/etc/ipsecsvc/certs")
        #expect(try ServiceConfiguration.parse("ike = none", path: "/t").keyingSettings == nil)
        // The defaults: strongSwan on Debian's socket, the kernel datapath.
        let defaults = try #require(ServiceConfiguration().keyingSettings)
        #expect(defaults.viciSocket == "/run/charon.vici")
        #expect(defaults.datapath == .kernel)
        #expect(defaults.libipsecInterface == "ipsec0")
    }

    @Test(arguments: [
        ("ike = racoon", "ipsecsvc.conf:1:", "strongswan or none"),
        ("ike_datapath = xfrm", "ipsecsvc.conf:1:", "kernel or libipsec"),
        ("ike_vici_socket = charon.vici", "ipsecsvc.conf:1:", "an absolute path"),
        ("ike_libipsec_interface = ipsec0 -j ACCEPT", "ipsecsvc.conf:1:", "an interface name"),
        ("ike_libipsec_interface = averyveryverylongname", "ipsecsvc.conf:1:", "an interface name"),
    ])
    func badValuesNameTheFileAndLine(text: String, line: String, expected: String) {
        #expect {
            try ServiceConfiguration.parse(text, path: "/etc/ipsecsvc/ipsecsvc.conf")
        } throws: { error in
            let message = "\(error)"
            return message.contains(line) && message.contains(expected)
        }
    }

    @Test func journalEntriesNameThePeerTheRuleAndTheReason() {
        let rule = RuleReference(key: "k", source: "local", policyName: "Secure", ruleName: "All IP")
        let failure = NegotiationFailure(
            peer: IPv4Address("198.18.9.2")!,
            rule: rule,
            reason: .authenticationFailed,
            detail: "invalid HASH_V1 payload length, decryption failed?",
            time: 0
        )
        let journal = RecordingJournal()
        JournalKeyingEventSink(journal: journal).keyingEvent(.negotiationFailed(failure))
        let entry = journal.entries[0]
        #expect(entry.kind == .ikeNegotiationFailed)
        #expect(entry.priority == .warning)
        #expect(entry.fields["IPSECSVC_PEER"] == "198.18.9.2")
        #expect(entry.fields["IPSECSVC_REASON"] == "authentication failed")
        #expect(entry.fields["IPSECSVC_RULE"] == "All IP")
        #expect(entry.message.contains("authentication failed"))
    }
}
