import IPsecTestKit
import Netsh
import PolicyFormats
import PolicyModel
import Testing

@Suite struct NetshShowTests {
    func examplePolicies() throws -> NetshHarness {
        let netsh = NetshHarness()
        let name = "01-windows-example-policies.netsh"
        _ = try netsh.shell.runScript(try NetshFixtures.text(name), source: name)
        return netsh
    }

    /// `show all` on the three Windows example policies, compared with a reviewed golden file.
    @Test func showAllOnTheWindowsExamplePolicies() throws {
        let netsh = try examplePolicies()
        let text = try netsh.s("show all")
        if NetshFixtures.recording {
            try NetshFixtures.write(text, "01-windows-example-policies.show-all.txt")
            return
        }
        #expect(text == (try NetshFixtures.text("01-windows-example-policies.show-all.txt")))
        #expect(text.contains("Policy Name             : Secure Server (Require Security)"))
        #expect(text.contains("Filter List Name        : <Dynamic>"))
    }

    @Test func showPolicyNormalAndVerbose() throws {
        let netsh = try examplePolicies()
        let normal = try netsh.s("show policy name=\"Client (Respond Only)\"")
        #expect(
            normal == """
                Policy Name             : Client (Respond Only)
                Description             : Communicate normally (unsecured). Use the default response rule to negotiate with servers that request security. Only the requested protocol and port traffic with that server is secured.
                Store                   : Local Store
                Last Modified           : 11/18/2026 11:06:40 AM
                Assigned                : NO
                Master PFS              : NO
                Polling Interval        : 180 minutes

                """
        )
        let verbose = try netsh.s("show policy \"Server (Request Security)\" level=verbose")
        #expect(verbose.contains("Main Mode Life Time     : 480 minutes / 0 Quick Mode sessions"))
        #expect(verbose.contains("No. of Rules            : 3"))
        #expect(verbose.contains("Rule Name               : All ICMP Traffic"))
        #expect(netsh.error("ipsec static show policy")?.message.contains("'name' or 'all'") == true)
        #expect(netsh.error("ipsec static show policy Nope")?.message == #"Policy with name "Nope" does not exist."#)
    }

    @Test func tablesAndWide() throws {
        let netsh = try examplePolicies()
        let table = try netsh.s("show policy all format=table wide=no")
        let lines = table.split(separator: "\n")
        #expect(lines[0].hasPrefix("Policy Name"))
        #expect(lines.count == 5)
        #expect(lines.contains { $0.contains("Secure Server (Require Secu...") })
        #expect(try netsh.s("show policy all format=table wide=yes").contains("Secure Server (Require Security)"))
        let filters = try netsh.s("show filterlist name=\"All ICMP Traffic\" format=table")
        #expect(filters.contains("YES <My IP Address>"))
        #expect(filters.contains("ICMP"))
        let actions = try netsh.s("show filteraction all format=table")
        #expect(actions.contains("Require Security") && actions.contains("Negotiate Security"))
        #expect(netsh.error("ipsec static show all format=grid")?.message.contains("list, table") == true)
        #expect(netsh.error("ipsec static show all wide=perhaps")?.message.contains("yes, no") == true)
    }

    @Test func showFilterListAndActionByRule() throws {
        let netsh = try examplePolicies()
        let lists = try netsh.s("show filterlist rule=\"All ICMP Traffic\" level=verbose")
        #expect(lists.contains("FilterList Name         : All ICMP Traffic"))
        #expect(lists.contains("GUID                    : {"))
        #expect(lists.contains("Protocol                : ICMP"))
        let action = try netsh.s("show filteraction name=\"Require Security\"")
        #expect(action.contains("Inbound Passthru        : YES"))
        #expect(action.contains("AllowUnsecured(Fallback): NO"))
        #expect(action.contains("3DES           SHA1"))
    }

    @Test func showRuleVariants() throws {
        let netsh = try examplePolicies()
        let policy = "policy=\"Server (Request Security)\""
        #expect(try netsh.s("show rule id=1 \(policy)").contains("Rule Name               : All IP Traffic"))
        #expect(try netsh.s("show rule default \(policy)").contains("<Default Response Rule>"))
        #expect(try netsh.s("show rule all \(policy) type=tunnel") == "")
        #expect(try netsh.s("show rule all \(policy) format=table").contains("Default"))
        #expect(try netsh.s("show rule all").contains("Secure Server"))
        #expect(netsh.error("ipsec static show rule name=x")?.message.contains("'policy'") == true)
    }

    @Test func resolveDNSShowsNames() throws {
        let netsh = NetshHarness()
        try netsh.s("add filter L me fileserver.example.test")
        #expect(try netsh.s("show filterlist L").contains("Destination IP Address  : 198.18.5.20"))
        #expect(
            try netsh.s("show filterlist L resolvedns=yes").contains(
                "Destination IP Address  : fileserver.example.test"
            )
        )
    }

    @Test func emptyStore() throws {
        let netsh = NetshHarness()
        #expect(
            try netsh.s("show all") == "There are no policies, filter lists or filter actions in the local store.\n"
        )
        #expect(try netsh.run("ipsec dump").contains("pushd ipsec static"))
        #expect(try netsh.s("show policy all") == "There are no policies in the local store.\n")
        #expect(try netsh.s("show filterlist all") == "There are no filter lists in the local store.\n")
        #expect(try netsh.s("show filteraction all") == "There are no filter actions in the local store.\n")
    }
}
