import IPsecTestKit
import Netsh
import PolicyFormats
import PolicyModel
import Testing

@Suite struct NetshStaticPolicyTests {
    @Test func addPolicyCreatesISAKMPSettingsAndTheDefaultResponseRule() throws {
        let netsh = NetshHarness()
        try netsh.s("add policy name=Web")
        let store = netsh.local
        let policy = try #require(store.policy(named: "web"))
        #expect(policy.description == "")
        #expect(policy.pollingIntervalSeconds == 10_800)
        #expect(policy.mainMode.lifetimeSeconds == 28_800)
        #expect(policy.mainMode.quickModeLimit == 0)
        #expect(!policy.mainMode.masterKeyPFS)
        #expect(policy.mainMode.securityMethods == MainModeSecurityMethod.windowsDefaults)
        #expect(store.assignedPolicyID == nil)
        let rule = try #require(policy.defaultResponseRule)
        #expect(rule.isActive && rule.filterListIDs.isEmpty && rule.authenticationMethods == [.kerberos])
        let action = try #require(rule.filterActionID.flatMap(store.filterAction(id:)))
        #expect(action.type == .defaultResponse && action.action == .negotiate)
        #expect(action.offers == NetshSecurityMethods.defaultResponseOffers)
    }

    @Test func addPolicyTakesEveryParameterPositionallyOrTagged() throws {
        let netsh = NetshHarness()
        try netsh.s(#"add policy "Mgmt" "Management station" no 5 240 no 30 yes "3DES-SHA1-3 DES-MD5-1""#)
        try netsh.s("ADD POLICY NAME=Pfs MMPFS=yes QMPERMM=7 mmlife=60 ACTIVATEDEFAULTRULE=n POLL=0 mmsec=3DES-MD5-2")
        let store = netsh.local
        let mgmt = try #require(store.policy(named: "Mgmt"))
        #expect(mgmt.description == "Management station")
        #expect(mgmt.mainMode.quickModeLimit == 5)
        #expect(mgmt.mainMode.lifetimeSeconds == 14_400)
        #expect(mgmt.defaultResponseRule?.isActive == false)
        #expect(mgmt.pollingIntervalSeconds == 1800)
        #expect(store.assignedPolicyID == mgmt.id)
        #expect(mgmt.mainMode.securityMethods.map(\.group) == [.group2048, .group1])
        #expect(mgmt.mainMode.securityMethods.allSatisfy { $0.lifetimeSeconds == 14_400 && $0.quickModeLimit == 5 })
        let pfs = try #require(store.policy(named: "Pfs"))
        #expect(pfs.mainMode.masterKeyPFS)
        #expect(pfs.mainMode.quickModeLimit == 1)  // mmpfs=yes means one quick mode per main mode
        #expect(pfs.defaultResponseRule?.isActive == false)
        #expect(pfs.pollingIntervalSeconds == 0 && pfs.effectivePollingIntervalSeconds == 10_800)
    }

    @Test func addPolicyErrors() throws {
        let netsh = NetshHarness()
        #expect(netsh.error("ipsec static add policy")?.message.contains("'name'") == true)
        try netsh.s("add policy P")
        #expect(netsh.error("ipsec static add policy p")?.message == #"Policy with name "p" already exists."#)
        #expect(
            netsh.error("ipsec static add policy Q mmpfs=perhaps")?.message.contains("Accepted values: yes, no") == true
        )
        #expect(netsh.error("ipsec static add policy Q mmlifetime=0")?.message.contains("'mmlifetime'") == true)
        #expect(netsh.error("ipsec static add policy Q mmsec=AES-SHA1-2")?.message.contains("'mmsecmethods'") == true)
        #expect(netsh.error("ipsec static add policy Q bogus=1")?.message.contains("'bogus'") == true)
        #expect(netsh.local.policies.count == 1)
    }

    @Test func assignUnassignsThePreviousPolicy() throws {
        let netsh = NetshHarness()
        try netsh.s("add policy A assign=yes")
        try netsh.s("add policy B")
        #expect(netsh.local.assignedPolicy?.name == "A")
        try netsh.s("set policy name=B assign=y")
        #expect(netsh.local.assignedPolicy?.name == "B")
        try netsh.s("set policy name=A assign=no")  // A is not assigned: nothing changes
        #expect(netsh.local.assignedPolicy?.name == "B")
        try netsh.s("set policy name=B assign=no")
        #expect(netsh.local.assignedPolicyID == nil)
    }

    @Test func setPolicyByNameOrGUID() throws {
        let netsh = NetshHarness()
        try netsh.s("add policy A")
        let id = try #require(netsh.local.policy(named: "A")).id
        try netsh.s(
            "set policy guid=\(id.braced.uppercased()) newname=B description=renamed pollinginterval=5 mmpfs=yes"
        )
        let policy = try #require(netsh.local.policy(named: "B"))
        #expect(policy.id == id && policy.description == "renamed" && policy.pollingIntervalSeconds == 300)
        #expect(policy.mainMode.masterKeyPFS && policy.mainMode.quickModeLimit == 1)
        try netsh.s("set policy B activatedefaultrule=no mmsecmethods=DES-SHA1-1")
        #expect(netsh.local.policies[0].defaultResponseRule?.isActive == false)
        #expect(netsh.local.policies[0].mainMode.securityMethods.count == 1)
        #expect(netsh.error("ipsec static set policy")?.message.contains("'name' or 'guid'") == true)
        #expect(
            netsh.error("ipsec static set policy name=Nope")?.message == #"Policy with name "Nope" does not exist."#
        )
        #expect(netsh.error("ipsec static set policy guid=xyz")?.message.contains("'guid'") == true)
        #expect(netsh.error("ipsec static set policy B gponame=GPO")?.message.contains("domain") == true)
        try netsh.s("add policy C")
        #expect(netsh.error("ipsec static set policy C newname=b")?.message.contains("already exists") == true)
    }

    @Test func deletePolicyDeletesItsRulesButKeepsSharedObjects() throws {
        let netsh = NetshHarness()
        try netsh.s("add policy P assign=yes")
        try netsh.s("add filteraction Block action=block")
        try netsh.s("add filter filterlist=Telnet srcaddr=any dstaddr=me protocol=TCP dstport=23")
        try netsh.s("add rule name=NoTelnet policy=P filterlist=Telnet filteraction=Block")
        try netsh.s("delete policy name=P")
        let store = netsh.local
        #expect(store.policies.isEmpty && store.assignedPolicyID == nil)
        #expect(store.filterLists.map(\.name) == ["Telnet"])
        #expect(store.filterActions.map(\.name) == ["Block"])  // the default response action went with the policy
        #expect(netsh.error("ipsec static delete policy P")?.message == #"Policy with name "P" does not exist."#)
        try netsh.s("add policy X")
        try netsh.s("add policy Y")
        try netsh.s("delete policy all")
        #expect(netsh.local.policies.isEmpty && netsh.local.filterActions.count == 1)
    }

    @Test func deleteAllEmptiesTheStore() throws {
        let netsh = NetshHarness()
        try netsh.s("add policy P")
        try netsh.s("add filterlist L")
        try netsh.s("add filteraction A")
        try netsh.s("delete all")
        #expect(netsh.local.isEmpty)
    }
}
