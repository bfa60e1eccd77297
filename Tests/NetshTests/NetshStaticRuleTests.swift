import IPsecTestKit
import Netsh
import PolicyFormats
import PolicyModel
import Testing

@Suite struct NetshStaticRuleTests {
    /// A policy P with filter list L and filter actions Secure (negotiate) and Block.
    func prepared() throws -> NetshHarness {
        let netsh = NetshHarness()
        try netsh.s("add policy P")
        try netsh.s("add filter L me any")
        try netsh.s("add filter L2 me 198.18.3.3")
        try netsh.s("add filteraction Secure")
        try netsh.s("add filteraction Block action=block")
        return netsh
    }

    func rule(_ netsh: NetshHarness, _ name: String) throws -> Rule {
        try #require(netsh.local.policy(named: "P")?.rules.first { $0.name == name })
    }

    @Test func addRuleDefaults() throws {
        let netsh = try prepared()
        try netsh.s("add rule name=R policy=P filterlist=L filteraction=Secure")
        let rule = try rule(netsh, "R")
        #expect(rule.isActive && rule.interfaceType == .all && rule.tunnelEndpoint == nil)
        #expect(rule.authenticationMethods == [.kerberos])
        #expect(rule.filterListIDs == [netsh.local.filterList(named: "L")!.id])
        #expect(rule.filterActionID == netsh.local.filterAction(named: "Secure")!.id)
        #expect(netsh.local.policy(named: "P")?.rules.count == 2)
    }

    @Test func addRuleParametersAndAuthenticationOrder() throws {
        let netsh = try prepared()
        try netsh.s(
            #"add rule R P L Secure tunnel=198.18.9.1 conntype=lan activate=no description="to the branch" psk="s3cret" kerberos=yes rootca="CN=Root A certmap:yes excludecaname:yes" rootca="CN=Root B""#
        )
        let rule = try rule(netsh, "R")
        #expect(rule.tunnelEndpoint == IPv4Address(198, 18, 9, 1) && rule.interfaceType == .lan && !rule.isActive)
        #expect(rule.description == "to the branch")
        #expect(
            rule.authenticationMethods == [
                .preSharedKey("s3cret"), .kerberos,
                .certificate(
                    CertificateAuthority(name: "CN=Root A", certificateToAccountMapping: true, excludeCAName: true)
                ),
                .certificate(CertificateAuthority(name: "CN=Root B")),
            ]
        )
        try netsh.s(
            "add rule name=T policy=P filterlist=L2 filteraction=Block tunnel=gw.example.test conntype=dialup kerberos=no psk=k"
        )
        let tunnel = try self.rule(netsh, "T")
        #expect(tunnel.tunnelEndpoint == IPv4Address(198, 19, 0, 1) && tunnel.tunnelEndpointName == "gw.example.test")
        #expect(tunnel.interfaceType == .dialUp && tunnel.authenticationMethods == [.preSharedKey("k")])
    }

    @Test func addRuleErrors() throws {
        let netsh = try prepared()
        #expect(
            netsh.error("ipsec static add rule name=R policy=P filterlist=L")?.message.contains("'filteraction'")
                == true
        )
        #expect(
            netsh.error("ipsec static add rule R Nope L Secure")?.message == #"Policy with name "Nope" does not exist."#
        )
        #expect(
            netsh.error("ipsec static add rule R P Nope Secure")?.message
                == #"Filter List with name "Nope" does not exist."#
        )
        #expect(
            netsh.error("ipsec static add rule R P L Nope")?.message
                == #"Filter Action with name "Nope" does not exist."#
        )
        #expect(
            netsh.error("ipsec static add rule R P L Secure conntype=wifi")?.message.contains("lan, dialup") == true
        )
        #expect(
            netsh.error("ipsec static add rule R P L Secure kerberos=no")?.message.contains("authentication") == true
        )
        #expect(netsh.error("ipsec static add rule R P L Secure tunnel=me")?.message.contains("'tunnel'") == true)
        try netsh.s("add rule R P L Secure")
        #expect(netsh.error("ipsec static add rule r P L Secure")?.message.contains("already exists") == true)
    }

    @Test func setRuleByNameOrID() throws {
        let netsh = try prepared()
        try netsh.s("add rule R1 P L Secure")
        try netsh.s("add rule R2 P L Secure")
        try netsh.s("set rule name=R1 policy=P newname=First filterlist=L2 filteraction=Block activate=no")
        var first = try rule(netsh, "First")
        #expect(first.filterListIDs == [netsh.local.filterList(named: "L2")!.id] && !first.isActive)
        try netsh.s("set rule id=2 policy=P conntype=lan psk=abc tunnel=198.18.4.4")
        let second = try rule(netsh, "R2")
        #expect(second.interfaceType == .lan && second.authenticationMethods == [.preSharedKey("abc")])
        #expect(second.tunnelEndpoint == IPv4Address(198, 18, 4, 4))
        try netsh.s("set rule id=2 policy=P tunnel=none kerberos=yes")
        #expect(try rule(netsh, "R2").tunnelEndpoint == nil)
        #expect(try rule(netsh, "R2").authenticationMethods == [.kerberos])
        try netsh.s("set rule First P description=d")
        first = try rule(netsh, "First")
        #expect(first.description == "d" && first.authenticationMethods == [.kerberos])  // no auth given: unchanged
        #expect(netsh.error("ipsec static set rule id=3 policy=P activate=no")?.message.contains("ID 3") == true)
        #expect(netsh.error("ipsec static set rule name=R2")?.message.contains("'policy'") == true)
        #expect(netsh.error("ipsec static set rule R2 P newname=first")?.message.contains("already exists") == true)
    }

    @Test func deleteRuleButNeverTheDefaultResponseRule() throws {
        let netsh = try prepared()
        try netsh.s("add rule R1 P L Secure")
        try netsh.s("add rule R2 P L Secure")
        try netsh.s("add rule R3 P L Secure")
        try netsh.s("delete rule id=2 policy=P")
        #expect(netsh.local.policies[0].rules.map(\.name) == ["R1", "R3", ""])  // the default response rule stays last
        try netsh.s("delete rule R3 P")
        try netsh.s("delete rule all P")
        #expect(netsh.local.policies[0].rules.count == 1 && netsh.local.policies[0].rules[0].isDefaultResponse)
        #expect(netsh.error("ipsec static delete rule name=R1 policy=P")?.message.contains("does not exist") == true)
        #expect(netsh.error("ipsec static delete rule policy=P")?.message.contains("'name' or 'id' or 'all'") == true)
    }

    @Test func setDefaultRule() throws {
        let netsh = try prepared()
        try netsh.s(
            #"set defaultrule policy=P qmpfs=yes activate=no qmsec="ESP[3DES,SHA1] AH[SHA1]" psk=key kerberos=yes"#
        )
        let policy = try #require(netsh.local.policy(named: "P"))
        let rule = try #require(policy.defaultResponseRule)
        #expect(!rule.isActive && rule.authenticationMethods == [.preSharedKey("key"), .kerberos])
        let action = try #require(rule.filterActionID.flatMap(netsh.local.filterAction(id:)))
        #expect(action.offers.count == 2 && action.quickModePFS)
        #expect(netsh.error("ipsec static set defaultrule")?.message.contains("'policy'") == true)
        #expect(
            netsh.error("ipsec static set defaultrule P qmsec=ESP[X,Y]")?.message.contains("'qmsecmethods'") == true
        )
    }
}
