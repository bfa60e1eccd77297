import Keying
import PolicyFormats
import PolicyModel
import Testing

/// `show mmsas|qmsas` from a backend that lists live SAs (the running service with keying).
@Suite struct NetshSecurityAssociationTests {
    final class Backend: NetshDynamicBackend, NetshSecurityAssociationSource {
        let inner = InMemoryNetshDynamicBackend(addresses: [IPv4Address(198, 18, 9, 1)])
        var associations = KeyingAssociations()

        func load() throws(NetshError) -> DynamicState { try inner.load() }
        func save(_ state: DynamicState) throws(NetshError) { try inner.save(state) }
        func statistics() throws(NetshError) -> NetshStatistics { try inner.statistics() }
        func localAddresses() throws(NetshError) -> [IPv4Address] { try inner.localAddresses() }
        func securityAssociations() throws(NetshError) -> KeyingAssociations { associations }
    }

    static let rule = RuleReference(key: "k", source: "local", policyName: "Secure", ruleName: "Peer")

    /// A netsh shell over the backend, running `ipsec dynamic <line>`.
    struct Shell {
        let shell: NetshShell

        func run(_ line: String) throws -> String { try shell.execute("ipsec dynamic " + line) }
    }

    func session() -> (Shell, Backend) {
        let backend = Backend()
        backend.associations = KeyingAssociations(
            mainModes: [
                MainModeAssociation(
                    connection: "ipsecsvc-k-198.18.9.2",
                    rule: Self.rule,
                    local: "198.18.9.1",
                    remote: "198.18.9.2",
                    localID: "198.18.9.1",
                    remoteID: "198.18.9.2",
                    state: "ESTABLISHED",
                    initiator: true,
                    initiatorCookie: "957de60a52c4a017",
                    responderCookie: "73840024e7c92c8b",
                    encryption: "3DES_CBC",
                    integrity: "HMAC_SHA1_96",
                    group: "MODP_1024"
                )
            ],
            quickModes: [
                QuickModeAssociation(
                    connection: "ipsecsvc-k-198.18.9.2",
                    rule: Self.rule,
                    local: "198.18.9.1",
                    remote: "198.18.9.2",
                    localSelectors: ["198.18.9.1/32"],
                    remoteSelectors: ["198.18.9.2/32[tcp/80]"],
                    mode: "TUNNEL",
                    encryption: "3DES_CBC",
                    integrity: "HMAC_SHA1_96",
                    spiIn: "5ce52033",
                    spiOut: "b0fb5bda",
                    bytesIn: 84,
                    bytesOut: 168
                )
            ],
            softAssociations: [
                SoftAssociationStatus(
                    peer: IPv4Address(198, 18, 9, 7),
                    rule: Self.rule,
                    since: 0,
                    idleLimitSeconds: 300,
                    idleSeconds: 12
                )
            ]
        )
        let environment = NetshEnvironment.deterministic(resolver: TableNameResolver([:]))
        let shell = NetshShell(
            staticSession: NetshStaticSession(backend: InMemoryNetshStoreBackend(), environment: environment),
            dynamicSession: NetshDynamicSession(backend: backend, environment: environment)
        )
        return (Shell(shell: shell), backend)
    }

    @Test func mainModeSAs() throws {
        let (session, _) = session()
        let text = try session.run("show mmsas all")
        #expect(text.contains("957de60a52c4a017:73840024e7c92c8b"))
        #expect(text.contains("3DES_CBC/HMAC_SHA1_96/MODP_1024"))
        #expect(text.contains("198.18.9.2"))
        #expect(text.contains("local: Secure / Peer"))
        #expect(try session.run("show mmsas dstaddr=198.18.9.99").contains("There are no main mode"))
    }

    @Test func quickModeSAsAndSoftAssociations() throws {
        let (session, _) = session()
        let text = try session.run("show qmsas all")
        #expect(text.contains("ESP[3DES_CBC,HMAC_SHA1_96]"))
        #expect(text.contains("198.18.9.2/32[tcp/80]"))
        #expect(text.contains("5ce52033"))
        #expect(text.contains("Soft Association"))
        #expect(text.contains("198.18.9.7"))
        #expect(try session.run("show qmsas protocol=UDP").contains("ESP[") == false)
        #expect(try session.run("show qmsas protocol=TCP").contains("ESP["))
    }
}
