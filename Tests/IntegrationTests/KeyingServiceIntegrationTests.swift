import Foundation
import IPsecTestKit
import Keying
import PolicyModel
import Testing

/// A test bed for the service with IKE: two namespaces the test creates, one charon-systemd in each
/// (libipsec), `ipsecsvc run` with the netfilter driver and `ike_datapath = libipsec` in the host
/// namespace, policies written with `ipsecsvc netsh -f`.
final class KeyingLab: Sendable {
    let net: DriverNetwork
    let local: Charon
    let peer: Charon?
    let config: String
    let service: Process

    static var executable: String {
        URL(fileURLWithPath: DriverTestEnvironment.harnessPath).deletingLastPathComponent()
            .appendingPathComponent("ipsecsvc").path
    }

    private init(net: DriverNetwork, local: Charon, peer: Charon?, config: String, service: Process) {
        self.net = net
        self.local = local
        self.peer = peer
        self.config = config
        self.service = service
    }

    /// The test CA, this host's and the peer's certificates and keys (throw-away test material,
    /// Tests/KeyingTests/Fixtures/README.md).
    static let certificates = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("KeyingTests/Fixtures/ike-lab").path

    /// The bed, with the peer's charon configured as a Windows Server 2003 peer that authenticates
    /// with `peer`, or no IKE on the peer at all (`nil`). The service's `ike_ca_dir` and
    /// `ike_cert_dir` hold the test CA and this host's certificate.
    static func make(
        peer authentication: Charon.PeerAuthentication?,
        datapath: KeyingDatapath = .libipsec
    ) async throws -> KeyingLab {
        let net = try await DriverNetwork()
        var started: [Charon] = []
        do {
            let local = try await Charon(net, namespace: net.host, name: "host", datapath: datapath)
            started.append(local)
            var peer: Charon?
            if let authentication {
                let daemon = try await Charon(net, namespace: net.peer, name: "peer")
                started.append(daemon)
                try await daemon.configureWindowsPeer(
                    local: net.peerAddress,
                    remote: net.hostAddress,
                    authentication: authentication
                )
                peer = daemon
            }
            let config = try net.writeServiceConfiguration(
                extra: """
                    ike = strongswan
                    ike_vici_socket = \(local.viciSocket)
                    ike_datapath = \(datapath.rawValue)
                    ike_ca_dir = \(certificates)/ca
                    ike_cert_dir = \(certificates)/host
                    examples = no
                    """
            )
            let service = try await net.startService(executable, config: config, name: "service")
            return KeyingLab(net: net, local: local, peer: peer, config: config, service: service)
        } catch {
            for daemon in started { await daemon.stop() }
            await net.teardown()
            throw error
        }
    }

    func teardown() async {
        service.signalIfRunning(SIGTERM)
        for _ in 0..<300 where service.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
        service.signalIfRunning(SIGKILL)
        await local.stop()
        await peer?.stop()
        await net.teardown()
    }

    /// Runs `ipsecsvc <command> --config <this bed's> <arguments>`.
    func ipsecsvc(_ command: String, _ arguments: String = "") async -> Outcome {
        await sh("\(Self.executable) \(command) --config \(config) \(arguments)")
    }

    /// Runs a netsh script (`ipsecsvc netsh -f`).
    @discardableResult
    func netsh(_ script: String) async throws -> Outcome {
        let path = net.directory + "/script-\(UUID().uuidString).netsh"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        let outcome = await sh("\(Self.executable) netsh --config \(config) -f \(path)")
        guard outcome.status == 0 else { throw TestFailure("netsh failed: \(outcome.output)") }
        return outcome
    }

    /// Assigns a policy with one rule: this computer ↔ the peer, any protocol, mirrored, negotiated by
    /// `action` (`soft`, `inpass`) and authenticated as `authentication` (netsh's `psk=` or
    /// `kerberos=yes`).
    func assignPolicy(
        soft: Bool = false,
        inpass: Bool = false,
        offers: String = "ESP[3DES,SHA1] ESP[3DES,MD5]",
        authentication: String
    ) async throws {
        try await netsh(
            """
            pushd ipsec static
            add policy name="IKE Test"
            add filterlist name="Peer"
            add filter filterlist="Peer" srcaddr=me dstaddr=\(net.peerAddress) mirrored=yes
            add filteraction name="Negotiate" action=negotiate soft=\(soft ? "yes" : "no") inpass=\(inpass ? "yes" : "no") qmsecmethods="\(offers)"
            add rule name="Peer Rule" policy="IKE Test" filterlist="Peer" filteraction="Negotiate" \(authentication)
            set policy name="IKE Test" assign=yes
            popd
            """
        )
    }

    /// The service's IKE status (`status --json`).
    func keying() async -> [String: Any] {
        let outcome = await ipsecsvc("status", "--json")
        let object = (try? JSONSerialization.jsonObject(with: Data(outcome.output.utf8))) as? [String: Any]
        return object?["keying"] as? [String: Any] ?? [:]
    }

    /// Waits until the service has loaded at least `count` connections into charon.
    func waitForConnections(_ count: Int = 1) async throws {
        let loaded = await eventually(timeout: .seconds(60)) {
            let status = await keying()
            return (status["connections"] as? Int ?? 0) >= count && status["connected"] as? Bool == true
        }
        guard loaded else { throw TestFailure("no IKE connections loaded: \(await keying()) \(log())") }
    }

    func log() -> String { (try? String(contentsOfFile: net.directory + "/service.log", encoding: .utf8)) ?? "" }

    /// One ICMP echo from the host namespace to the peer.
    func ping() async -> Bool { await net.pings(from: net.host, to: net.peerAddress, count: 1, timeoutMs: 500) }

    /// Pings until one is answered; the time that took, or `nil` after `limit`.
    func firstAnsweredPing(within limit: Duration) async -> Duration? {
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < limit {
            if await ping() { return clock.now - start }
        }
        return nil
    }

    /// The IKE SAs named after ipsecsvc's connections in the host's charon.
    func serviceSAs() async throws -> [ViciMessage] {
        try await local.securityAssociations().filter { $0.names.contains { $0.hasPrefix(KeyingPlanner.prefix) } }
    }
}

/// The service negotiating with a Windows Server 2003 peer (strongSwan configured as one): Require
/// Security with a pre-shared key, a wrong key, a peer without IKE (require and soft), inbound
/// pass-through, a Kerberos-only rule, a policy change, a charon restart. Root, /dev/net/tun and
/// charon-systemd; skipped with a reason otherwise.
@Suite(.serialized, .enabled(if: CharonEnvironment.available, CharonEnvironment.skipReason))
struct KeyingServiceIntegrationTests {
    static func run(peerKey: String?, _ body: (KeyingLab) async throws -> Void) async throws {
        try await run(peer: peerKey.map { .presharedKey($0) }, body)
    }

    static func run(
        peer: Charon.PeerAuthentication?,
        datapath: KeyingDatapath = .libipsec,
        _ body: (KeyingLab) async throws -> Void
    ) async throws {
        let lab = try await KeyingLab.make(peer: peer, datapath: datapath)
        do {
            try await body(lab)
        } catch {
            Issue.record("service log:\n\(lab.log())\ncharon log:\n\(lab.local.log())")
            await lab.teardown()
            throw error
        }
        await lab.teardown()
    }

    @Test func requireSecurityWithAPresharedKeyNegotiatesOnTheFirstPacket() async throws {
        try await Self.run(peerKey: "it-psk") { lab in
            let counter = try await WireCounter(lab.net)
            _ = try lab.net.spawn(lab.net.peer, ["nc", "-lk", "8080"], output: lab.net.directory + "/nc-peer.log")
            try await lab.assignPolicy(authentication: #"psk="it-psk""#)
            try await lab.waitForConnections()
            let elapsed = await lab.firstAnsweredPing(within: .seconds(20))
            #expect(elapsed != nil, "no ping answered: \(lab.log())")
            #expect(await lab.net.connects(from: lab.net.host, to: lab.net.peerAddress, port: 8080))
            // The peer's traffic to us goes through the SA too.
            #expect(await lab.net.pings(from: lab.net.peer, to: lab.net.hostAddress))
            #expect(await counter.espPackets() > 0)
            let counts = await counter.counts()
            #expect(await counter.clearPackets() == 0, "\(counts)")
            let qmsas = await lab.ipsecsvc("netsh", "ipsec dynamic show qmsas")
            #expect(qmsas.output.contains("ESP[3DES_CBC,HMAC_SHA1_96]"), "\(qmsas.output)")
            #expect(qmsas.output.contains(lab.net.peerAddress))
            let mmsas = await lab.ipsecsvc("netsh", "ipsec dynamic show mmsas")
            #expect(mmsas.output.contains("3DES_CBC/HMAC_SHA1_96/MODP_1024"), "\(mmsas.output)")
            let stats = await lab.ipsecsvc("netsh", "ipsec dynamic show stats type=ike")
            #expect(stats.output.range(of: #"Main Modes\s*:\s*[1-9]"#, options: .regularExpression) != nil, "\(stats)")
            let explain = await lab.ipsecsvc(
                "explain",
                "--src \(lab.net.hostAddress) --dst \(lab.net.peerAddress) --protocol icmp"
            )
            #expect(explain.output.contains("Verdict: negotiate"), "\(explain.output)")
            #expect(
                explain.output.contains("security associations with \(lab.net.peerAddress) exist"),
                "\(explain.output)"
            )
            let status = await lab.ipsecsvc("status")
            #expect(status.output.contains("connected to charon-systemd 5.9.8"), "\(status.output)")
            #expect(!status.output.contains("it-psk"))
            #expect(!lab.log().contains("it-psk"))
        }
    }

    @Test func aWrongPresharedKeyLetsNothingPassAndIsLoggedWithItsReason() async throws {
        try await Self.run(peerKey: "other-psk") { lab in
            let counter = try await WireCounter(lab.net)
            try await lab.assignPolicy(authentication: #"psk="it-psk""#)
            try await lab.waitForConnections()
            #expect(await lab.firstAnsweredPing(within: .seconds(8)) == nil)
            let logged = await eventually(timeout: .seconds(60)) {
                lab.log().contains("negotiation with \(lab.net.peerAddress) failed: authentication failed")
            }
            #expect(logged, "\(lab.log())")
            let failures = await lab.keying()["recentFailures"] as? [[String: Any]] ?? []
            #expect(failures.contains { $0["reason"] as? String == "authentication failed" })
            let counts = await counter.counts()
            #expect(await counter.clearPackets() == 0, "\(counts)")
        }
    }

    @Test func aPeerWithoutIKEIsDroppedByRequireSecurity() async throws {
        try await Self.run(peerKey: nil) { lab in
            try await lab.assignPolicy(authentication: #"psk="it-psk""#)
            try await lab.waitForConnections()
            #expect(await lab.firstAnsweredPing(within: .seconds(8)) == nil)
            #expect(((await lab.keying())["softAssociations"] as? [Any])?.isEmpty != false)
            // charon gives up after its retransmissions (about 12 s here): the reason is "no answer".
            let logged = await eventually(timeout: .seconds(60)) {
                lab.log().contains("negotiation with \(lab.net.peerAddress) failed: no answer")
            }
            #expect(logged, "\(lab.log())")
        }
    }

    @Test func offersThePeerDoesNotAcceptFailWithNoProposalChosen() async throws {
        try await Self.run(peerKey: "it-psk") { lab in
            // The Windows peer takes ESP 3DES-SHA1 only.
            try await lab.assignPolicy(offers: "ESP[DES,MD5]", authentication: #"psk="it-psk""#)
            try await lab.waitForConnections()
            #expect(await lab.firstAnsweredPing(within: .seconds(8)) == nil)
            let logged = await eventually(timeout: .seconds(60)) {
                lab.log().contains("negotiation with \(lab.net.peerAddress) failed: no proposal chosen")
            }
            #expect(logged, "\(lab.log())")
            let stats = await lab.ipsecsvc("netsh", "ipsec dynamic show stats type=ike")
            #expect(
                stats.output.range(of: #"Negotiation Failures\s*:\s*[1-9]"#, options: .regularExpression) != nil,
                "\(stats.output)"
            )
        }
    }

    /// The 5 s (issue 11; Windows waits 3 s for an answer) is judged by the service's own time, from the
    /// keying engine's receipt of the first packet's request to the soft association: the test's wall clock
    /// also holds the start of each `ping` (a shell, `ip netns exec`, the harness) and its 500 ms wait, one
    /// to two seconds each at load 30, and once read 5.8 s for a fallback the service made in time. The
    /// wall clock to the first answered ping is a hang guard.
    @Test func requestSecurityFallsBackToTheClearWithinFiveSeconds() async throws {
        try await Self.run(peerKey: nil) { lab in
            try await lab.assignPolicy(soft: true, authentication: #"psk="it-psk""#)
            try await lab.waitForConnections()
            let elapsed = await lab.firstAnsweredPing(within: .seconds(120))
            let fallback = try #require(elapsed, "no fallback: \(lab.log())")
            let softs = await lab.keying()["softAssociations"] as? [[String: Any]] ?? []
            #expect(softs.count == 1)
            let own = (softs.first?["fallbackMilliseconds"] as? NSNumber)?.intValue
            print("soft fallback: \(own.map { "\($0) ms" } ?? "?") the service's own, \(fallback) to an answered ping")
            #expect(own.map { $0 >= 3000 && $0 <= 5000 } == true, "fell back after \(own ?? -1) ms: \(softs)")
            let qmsas = await lab.ipsecsvc("netsh", "ipsec dynamic show qmsas")
            #expect(qmsas.output.contains("Soft Association"), "\(qmsas.output)")
            #expect(lab.log().contains("did not answer; communication with it falls back to the clear"))
        }
    }

    @Test func inboundPassThroughAcceptsTheClearConnectionAndAnswersProtected() async throws {
        try await Self.run(peerKey: "it-psk") { lab in
            try lab.net.listen(8080)
            try await lab.assignPolicy(inpass: true, authentication: #"psk="it-psk""#)
            try await lab.waitForConnections()
            let counter = try await WireCounter(lab.net)
            // The peer's first SYN goes in the clear and is accepted; the answer starts the
            // negotiation; the peer's next SYN and every answer go through the SA.
            let connected =
                await sh(
                    "ip netns exec \(lab.net.peer) nc -z -w 10 \(lab.net.hostAddress) 8080"
                ).status == 0
            #expect(connected, "\(lab.log())")
            let counts = await counter.counts()
            #expect((counts["clear-tcp-out"] ?? 0) >= 1, "the first SYN went in the clear: \(counts)")
            #expect((counts["clear-tcp-in"] ?? 0) == 0, "no answer came back in the clear: \(counts)")
            #expect(await counter.espPackets() > 0)
        }
    }

    /// A rule that names its root CA: the service finds the CA in `ike_ca_dir` and its own
    /// certificate in `ike_cert_dir`, and negotiates with a peer whose certificate that CA issued.
    @Test func aCertificateRuleNegotiatesWithThePeersCertificate() async throws {
        let read = { (path: String) in
            [UInt8](try Data(contentsOf: URL(fileURLWithPath: KeyingLab.certificates + path)))
        }
        let peer = try Charon.PeerAuthentication.certificate(
            certificate: read("/peer/peer.pem"),
            key: read("/peer/peer.key"),
            authority: read("/ca/example-ike-root.pem")
        )
        try await Self.run(peer: peer) { lab in
            let counter = try await WireCounter(lab.net)
            try await lab.assignPolicy(authentication: #"rootca="CN=Example IKE Test Root CA, O=Example""#)
            try await lab.waitForConnections()
            let elapsed = await lab.firstAnsweredPing(within: .seconds(20))
            #expect(elapsed != nil, "no ping answered: \(lab.log())")
            #expect(await counter.espPackets() > 0)
            let counts = await counter.counts()
            #expect(await counter.clearPackets() == 0, "\(counts)")
            let mmsas = await lab.ipsecsvc("netsh", "ipsec dynamic show mmsas")
            #expect(mmsas.output.contains("peer.example.test"), "\(mmsas.output)")
        }
    }

    /// The default datapath (`ike_datapath = kernel`) as far as a kernel without ESP allows: the rule's
    /// child is a trap in the kernel's XFRM, and the first packet's acquire makes charon start main
    /// mode with the peer by itself (the service starts nothing). Installing the CHILD_SA then fails
    /// here (no ESP in this kernel); docs/keying.md has the manual check for a normal kernel.
    @Test func onTheKernelDatapathTheFirstPacketsAcquireStartsMainMode() async throws {
        try await Self.run(peer: .presharedKey("it-psk"), datapath: .kernel) { lab in
            try await lab.assignPolicy(authentication: #"psk="it-psk""#)
            try await lab.waitForConnections()
            let client = lab.local.client()
            let trapped = try await client.stream("list-policies", ["trap": "yes"], event: "list-policy").items
            #expect(trapped.contains { $0.names.contains { $0.hasPrefix(KeyingPlanner.prefix) } }, "\(trapped)")
            await client.closeIdleConnections()
            _ = await lab.ping()
            let established = await eventually(timeout: .seconds(60)) {
                let sas = (try? await lab.serviceSAs()) ?? []
                return sas.contains { sa in sa.sections.contains { $0.message.string("state") == "ESTABLISHED" } }
            }
            #expect(established, "\(lab.local.log())")
            #expect(lab.local.log().contains("acquire"), "\(lab.local.log())")
            let counters = await lab.keying()["counters"] as? [String: Any] ?? [:]
            #expect(counters["negotiations.started"] == nil, "the service started a negotiation: \(counters)")
        }
    }

    /// Client (Respond Only): a policy with only its default response rule answers a peer that
    /// starts IKE, and their traffic then goes through the SA.
    @Test func theDefaultResponseRuleAnswersAPeerThatStarts() async throws {
        try await Self.run(peerKey: "it-psk") { lab in
            try await lab.netsh(
                """
                pushd ipsec static
                add policy name="Respond Only" activatedefaultrule=yes
                set defaultrule policy="Respond Only" psk="it-psk" qmsec="ESP[3DES,SHA1] ESP[3DES,MD5]"
                set policy name="Respond Only" assign=yes
                popd
                """
            )
            try await lab.waitForConnections()
            let peer = try #require(lab.peer)
            let counter = try await WireCounter(lab.net)
            let client = peer.client()
            let answer = try await client.call(
                "initiate",
                ["ike": "windows", "child": "host", "timeout": "20000"]
            )
            await client.closeIdleConnections()
            #expect(answer.string("success") == "yes", "\(answer) \(lab.local.log())")
            #expect(await lab.net.pings(from: lab.net.peer, to: lab.net.hostAddress))
            #expect(await counter.espPackets() > 0)
            let sas = try await lab.serviceSAs()
            #expect(sas.contains { $0.names.contains { $0.hasSuffix("-default-response") } }, "\(sas)")
            let qmsas = await lab.ipsecsvc("netsh", "ipsec dynamic show qmsas")
            #expect(qmsas.output.contains(lab.net.peerAddress), "\(qmsas.output)")
        }
    }

    @Test func aKerberosOnlyRuleIsReportedAsNotNegotiable() async throws {
        try await Self.run(peerKey: "it-psk") { lab in
            try await lab.assignPolicy(authentication: "kerberos=yes")
            let reported = await eventually(timeout: .seconds(60)) {
                let rules = await lab.keying()["unnegotiable"] as? [[String: Any]] ?? []
                return rules.contains { ($0["reason"] as? String)?.contains("cannot be negotiated on Linux") == true }
            }
            #expect(reported)
            #expect(lab.log().contains("cannot be negotiated on Linux"))
            let status = await lab.ipsecsvc("status")
            #expect(status.output.contains("not negotiable"), "\(status.output)")
            #expect(await lab.firstAnsweredPing(within: .seconds(4)) == nil)
            let explain = await lab.ipsecsvc(
                "explain",
                "--src \(lab.net.hostAddress) --dst \(lab.net.peerAddress) --protocol icmp"
            )
            #expect(explain.output.contains("not negotiable"), "\(explain.output)")
        }
    }

    @Test func removingTheRuleTearsItsSAsDown() async throws {
        try await Self.run(peerKey: "it-psk") { lab in
            try await lab.assignPolicy(authentication: #"psk="it-psk""#)
            try await lab.waitForConnections()
            #expect(await lab.firstAnsweredPing(within: .seconds(20)) != nil)
            #expect(try await !lab.serviceSAs().isEmpty)
            try await lab.netsh(
                """
                pushd ipsec static
                delete rule name="Peer Rule" policy="IKE Test"
                popd
                """
            )
            let gone = await eventually(timeout: .seconds(60)) {
                (try? await lab.serviceSAs().isEmpty) == true
            }
            #expect(gone, "\(lab.local.log())")
            let qmsas = await lab.ipsecsvc("netsh", "ipsec dynamic show qmsas")
            #expect(qmsas.output.contains("There are no quick mode security associations"), "\(qmsas.output)")
        }
    }

    @Test func afterCharonRestartsTheServiceReconnectsAndNegotiatesAgain() async throws {
        try await Self.run(peerKey: "it-psk") { lab in
            try await lab.assignPolicy(authentication: #"psk="it-psk""#)
            try await lab.waitForConnections()
            #expect(await lab.firstAnsweredPing(within: .seconds(20)) != nil)
            await lab.local.stop()
            let lost = await eventually(timeout: .seconds(60)) {
                await lab.keying()["connected"] as? Bool == false
            }
            #expect(lost)
            // While charon is away, negotiate traffic fails and status says why.
            let status = await lab.ipsecsvc("status")
            #expect(status.output.contains("NOT CONNECTED"), "\(status.output)")
            try await lab.local.start()
            try await lab.waitForConnections()
            #expect(await lab.firstAnsweredPing(within: .seconds(20)) != nil, "\(lab.log())")
            #expect(lab.log().contains("IKE: connected to charon-systemd 5.9.8"))
        }
    }
}
