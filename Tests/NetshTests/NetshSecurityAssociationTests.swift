import DecisionCore
import IPsecTestKit
import Keying
import Netsh
import PolicyModel
import Testing

/// `show mmsas|qmsas` from the live SAs the service gathered from keying (``NetshSPD/securityAssociations``).
@Suite struct NetshSecurityAssociationTests {
    static let rule = RuleReference(key: "k", source: "local", policyName: "Secure", ruleName: "Peer")

    static let associations = KeyingAssociations(
        mainModes: [
            MainModeAssociation(
                connection: "ipsecsvc-k-198.18.9.2",
                rule: rule,
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
                rule: rule,
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
                rule: rule,
                since: 0,
                idleLimitSeconds: 300,
                idleSeconds: 12
            )
        ]
    )

    static func netsh(_ associations: NetshSecurityAssociations = .listed(associations)) -> NetshHarness {
        NetshHarness(dynamic: InMemoryNetshDynamicBackend(spd: NetshSPD(securityAssociations: associations)))
    }

    @Test func mainModeSAs() throws {
        let netsh = Self.netsh()
        let text = try netsh.d("show mmsas all")
        #expect(text.contains("957de60a52c4a017:73840024e7c92c8b"))
        #expect(text.contains("3DES_CBC/HMAC_SHA1_96/MODP_1024"))
        #expect(text.contains("198.18.9.2"))
        #expect(text.contains("local: Secure / Peer"))
        #expect(try netsh.d("show mmsas dstaddr=198.18.9.99").contains("There are no main mode"))
    }

    @Test func quickModeSAsAndSoftAssociations() throws {
        let netsh = Self.netsh()
        let text = try netsh.d("show qmsas all")
        #expect(text.contains("ESP[3DES_CBC,HMAC_SHA1_96]"))
        #expect(text.contains("198.18.9.2/32[tcp/80]"))
        #expect(text.contains("5ce52033"))
        #expect(text.contains("Soft Association"))
        #expect(text.contains("198.18.9.7"))
        #expect(try netsh.d("show qmsas protocol=UDP").contains("ESP[") == false)
        #expect(try netsh.d("show qmsas protocol=TCP").contains("ESP["))
    }

    @Test func withoutKeyingOrCharonItSaysWhy() throws {
        #expect(try Self.netsh(.none).d("show qmsas").contains("does not negotiate IKE (ike = none)"))
        let down = try Self.netsh(.unavailable("the IKE daemon (charon) is not available: connection refused"))
            .d("show mmsas")
        #expect(down.contains("charon) is not available"))
    }

    /// The service gathers the SAs only for the commands that show them.
    @Test func onlyTheSACommandsReadTheLiveSAs() {
        let show = { (name: String) in NetshDynamicSession.reads([NetshDynamicCommand(name: name, arguments: [])]) }
        #expect(show("show mmsas").contains(.securityAssociations))
        #expect(show("show qmsas").contains(.securityAssociations))
        #expect(!show("show config").contains(.securityAssociations))
    }
}

/// Dynamic rules negotiate like static ones: keying reads their authentication and main mode.
@Suite struct NetshDynamicNegotiationTests {
    @Test func aDynamicRuleCarriesItsAuthenticationMainModeAndSoft() throws {
        let netsh = NetshHarness()
        try netsh.d("add mmpolicy MM qmpermm=2 mmlifetime=60 softsaexpirationtime=120")
        try netsh.d("add qmpolicy QM soft=yes")
        try netsh.d(#"add rule me 198.18.5.5 MM QM psk="dynamic key""#)
        let filter = try #require(netsh.dynamic.spd.policy.effectiveFilters(source: "dynamic").first)
        let negotiation = try #require(filter.negotiation)
        #expect(negotiation.authenticationMethods == [.preSharedKey("dynamic key")])
        #expect(negotiation.mainMode.quickModeLimit == 2)
        #expect(negotiation.mainMode.lifetimeSeconds == 3600)
        #expect(negotiation.softAssociationIdleSeconds == 120)
        #expect(filter.outboundAction.allowFallbackToClear)
    }
}
