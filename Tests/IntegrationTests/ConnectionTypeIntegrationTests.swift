import Foundation
import IPsecTestKit
import Synchronization
import Testing

/// Connection types with the real service and driver: a Windows-shaped policy whose Remote access rule
/// blocks all traffic and whose LAN rule blocks Telnet. On the veth (a LAN interface) only Telnet is
/// blocked; on a second veth that `dialup_interfaces` names a remote access interface, everything is.
/// Root only; namespaces, veth pairs and 198.18.0.0/15 addresses of the test's own.
@Suite(.serialized, .requires(DriverTestEnvironment.requirement))
struct ConnectionTypeIntegrationTests {
    private static let counter = Atomic<Int>(0)

    @Test func remoteAccessRulesApplyOnlyToDialupInterfaces() async throws {
        let executable = DriverServiceIntegrationTests.executable
        try #require(FileManager.default.isExecutableFile(atPath: executable), "ipsecsvc not built at \(executable)")
        let net = try await DriverNetwork()
        do {
            try await run(net, executable)
        } catch {
            await net.teardown()
            throw error
        }
        await net.teardown()
    }

    func run(_ net: DriverNetwork, _ executable: String) async throws {
        // The second link: 198.19.N.0/24, named so that the dialup_interfaces pattern matches it.
        let index = Self.counter.add(1, ordering: .relaxed).newValue
        let dialup = "ipdd\(getpid() % 100000)x\(index)"
        let subnet = net.hostAddress.split(separator: ".")[2]
        let dialupHost = "198.19.\(subnet).2"
        let dialupPeer = "198.19.\(subnet).1"
        try await net.addLink(
            hostSide: dialup,
            peerSide: "ipde\(getpid() % 100000)x\(index)",
            hostAddress: dialupHost,
            peerAddress: dialupPeer
        )
        try net.listen(22)
        try net.listen(23)
        let config = try net.writeServiceConfiguration(extra: "dialup_interfaces = ipdd*")
        let service = try await net.startService(executable, config: config, name: "service")
        let policy = "\(net.directory)/remote-access.xml"
        try Self.policy.write(toFile: policy, atomically: true, encoding: .utf8)
        let imported = await sh("\(executable) policy import \(policy) --assign 'Dial-up lockdown' --config \(config)")
        #expect(imported.status == 0, "\(imported.output)")

        // LAN: only Telnet is blocked (polled briefly: the import applies at once).
        var telnetBlocked = false
        for _ in 0..<20 where !telnetBlocked {
            telnetBlocked = await net.blocked(from: net.peer, to: net.hostAddress, port: 23)
        }
        #expect(telnetBlocked)
        #expect(await net.connects(from: net.peer, to: net.hostAddress, port: 22))
        #expect(await net.pings(from: net.peer, to: net.hostAddress))
        // Remote access: everything is blocked.
        #expect(await net.blocked(from: net.peer, to: dialupHost, port: 22))
        #expect(await net.blocked(from: net.peer, to: dialupHost, port: 23))
        #expect(!(await net.pings(from: net.peer, to: dialupHost, count: 2, timeoutMs: 500)))

        // explain says the same, per interface, and which rule it skipped.
        let common = "--config \(config) --protocol tcp --direction in"
        let lanSSH = await sh(
            "\(executable) explain --src \(net.peerAddress) --dst \(net.hostAddress) --dstport 22 --interface \(net.hostLink) \(common)"
        )
        #expect(lanSSH.output.contains("Verdict: permit"), "\(lanSSH.output)")
        #expect(lanSSH.output.contains("remote access connections only"), "\(lanSSH.output)")
        let dialupSSH = await sh(
            "\(executable) explain --src \(dialupPeer) --dst \(dialupHost) --dstport 22 --interface \(dialup) \(common)"
        )
        #expect(dialupSSH.output.contains("Verdict: block"), "\(dialupSSH.output)")
        #expect(dialupSSH.output.contains("rule \"Block all on dial-up\""), "\(dialupSSH.output)")
        #expect(dialupSSH.output.contains("dialup_interfaces pattern 'ipdd*'"), "\(dialupSSH.output)")
        let effective = await sh("\(executable) policy show --effective --config \(config)")
        #expect(effective.output.contains("connection type DIALUP"), "\(effective.output)")
        #expect(effective.output.contains("connection type LAN"), "\(effective.output)")

        service.signalIfRunning(SIGTERM)
        for _ in 0..<300 where service.isRunning { try await Task.sleep(for: .milliseconds(50)) }
    }

    /// A policy as Windows builds it: "All IP Traffic" blocked on remote access connections, inbound
    /// Telnet blocked on LAN connections.
    static let policy = """
        <?xml version="1.0" encoding="UTF-8"?>
        <policyStore xmlns="urn:ipsecsvc:policy:1" version="1" assignedPolicy="{6c0b6d0e-4a7e-4b6e-9b1a-0c6e1d2f3a01}">
          <filterList id="{6c0b6d0e-4a7e-4b6e-9b1a-0c6e1d2f3a02}" name="All IP Traffic" description="Matches all IP packets from this computer to any other computer, except broadcast, multicast, Kerberos, RSVP and ISAKMP (IKE)." whenChanged="2026-12-06T12:00:00Z">
            <filter id="{6c0b6d0e-4a7e-4b6e-9b1a-0c6e1d2f3a03}" description="" mirrored="true" protocol="any">
              <source><me/></source>
              <destination><any/></destination>
            </filter>
          </filterList>
          <filterList id="{6c0b6d0e-4a7e-4b6e-9b1a-0c6e1d2f3a04}" name="Telnet" description="Inbound Telnet." whenChanged="2026-12-06T12:00:00Z">
            <filter id="{6c0b6d0e-4a7e-4b6e-9b1a-0c6e1d2f3a05}" description="Telnet" mirrored="true" protocol="tcp" destinationPort="23">
              <source><any/></source>
              <destination><me/></destination>
            </filter>
          </filterList>
          <filterAction id="{6c0b6d0e-4a7e-4b6e-9b1a-0c6e1d2f3a06}" name="Block" description="Drop the traffic." whenChanged="2026-12-06T12:00:00Z" action="block" inpass="false" soft="false" type="standard"/>
          <policy id="{6c0b6d0e-4a7e-4b6e-9b1a-0c6e1d2f3a01}" name="Dial-up lockdown" description="No traffic over dial-up connections; no Telnet on the LAN." whenChanged="2026-12-06T12:00:00Z" pollingIntervalSeconds="10800">
            <mainMode id="{6c0b6d0e-4a7e-4b6e-9b1a-0c6e1d2f3a07}" masterKeyPFS="false" quickModeLimit="0" lifetimeSeconds="28800" certificateToAccountMapping="false" omitCertificateRequest="false">
              <securityMethod encryption="3DES" integrity="SHA1" group="2" quickModeLimit="0" lifetimeKilobytes="0" lifetimeSeconds="28800"/>
            </mainMode>
            <rule id="{6c0b6d0e-4a7e-4b6e-9b1a-0c6e1d2f3a08}" name="Block all on dial-up" description="" whenChanged="2026-12-06T12:00:00Z" filterAction="{6c0b6d0e-4a7e-4b6e-9b1a-0c6e1d2f3a06}" interface="dialup" active="true" defaultResponse="false">
              <filterListRef filterList="{6c0b6d0e-4a7e-4b6e-9b1a-0c6e1d2f3a02}"/>
              <kerberos/>
            </rule>
            <rule id="{6c0b6d0e-4a7e-4b6e-9b1a-0c6e1d2f3a09}" name="Block Telnet on the LAN" description="" whenChanged="2026-12-06T12:00:00Z" filterAction="{6c0b6d0e-4a7e-4b6e-9b1a-0c6e1d2f3a06}" interface="lan" active="true" defaultResponse="false">
              <filterListRef filterList="{6c0b6d0e-4a7e-4b6e-9b1a-0c6e1d2f3a04}"/>
              <kerberos/>
            </rule>
          </policy>
        </policyStore>
        """
}
