import DecisionCore
import Foundation
import IPsecTestKit
import Netsh
import PolicyFormats
import PolicyModel
import Testing

@Suite struct NetshStoreTests {
    @Test func setStoreSwitchesBetweenLocalAndPersistent() throws {
        let netsh = NetshHarness()
        #expect(try netsh.s("show store") == "The current IPsec policy store is the local store.\n")
        try netsh.s("set store location=persistent")
        try netsh.s("add policy Mgmt assign=yes")
        #expect(try netsh.s("show store").contains("persistent store"))
        try netsh.s("set store local")
        #expect(netsh.local.isEmpty)
        #expect(netsh.stores.stores[.persistent]?.assignedPolicy?.name == "Mgmt")
        #expect(
            netsh.error("ipsec static set store location=registry")?.message.contains("local, persistent, domain")
                == true
        )
        #expect(netsh.error("ipsec static set store location=local domain=x")?.message.contains("'domain'") == true)
    }

    @Test func domainStoreIsReadOnly() throws {
        let netsh = NetshHarness()
        var directory = PolicyStore()
        directory.policies.append(
            IPsecPolicy(id: .random(), name: "Domain Isolation", mainMode: MainModeSettings(id: .random()))
        )
        netsh.stores.stores[.domain] = directory
        try netsh.s("set store location=domain domain=example.test")
        #expect(
            try netsh.s("show store")
                == "The current IPsec policy store is the domain store of example.test (read-only).\n"
        )
        #expect(try netsh.s("show policy all").contains("Domain Isolation"))
        let error = netsh.error("ipsec static add policy Local")
        #expect(error?.message.contains("read-only") == true)
        #expect(netsh.error("ipsec static delete all")?.message.contains("read-only") == true)
        #expect(netsh.stores.stores[.domain] == directory)
    }

    @Test func batchModeSavesOnce() throws {
        let netsh = NetshHarness()
        try netsh.s("add policy A")
        #expect(netsh.stores.saveCount[.local] == 1)
        try netsh.s("set batch mode=enable")
        try netsh.s("add policy B")
        try netsh.s("add filteraction F")
        try netsh.s("add filter L me any")
        #expect(netsh.stores.saveCount[.local] == 1 && netsh.local.policies.count == 1)
        #expect(try netsh.s("show policy all").contains("Policy Name             : B"))  // the batch sees its own edits
        try netsh.s("set batch disable")
        #expect(netsh.stores.saveCount[.local] == 2 && netsh.local.policies.count == 2)
        #expect(netsh.error("ipsec static set batch mode=on")?.message.contains("enable, disable") == true)
    }

    @Test func batchModeIsCommittedWhenNetshFinishes() throws {
        let netsh = NetshHarness()
        try netsh.s("set batch mode=enable")
        try netsh.s("add policy A")
        #expect(netsh.local.isEmpty)
        try netsh.shell.finish()
        #expect(netsh.local.policies.count == 1)
    }

    @Test func exportAndImport() throws {
        let netsh = NetshHarness()
        try netsh.s("add policy A assign=yes")
        try netsh.s("add filteraction F")
        try netsh.s("exportpolicy file=/tmp/backup.xml")
        #expect(netsh.stores.files["/tmp/backup.xml"] == netsh.local)
        try netsh.s("set store persistent")
        try netsh.s("importpolicy /tmp/backup.xml")
        let persistent = try #require(netsh.stores.stores[.persistent])
        #expect(persistent.policies.map(\.name) == ["A"] && persistent.assignedPolicyID == nil)
        try netsh.s("importpolicy /tmp/backup.xml")  // same GUIDs replace, nothing doubles
        #expect(netsh.stores.stores[.persistent]?.policies.count == 1)
        #expect(
            netsh.error("ipsec static importpolicy file=/tmp/missing.xml")?.message.contains("cannot be opened") == true
        )
        #expect(netsh.error("ipsec static exportpolicy")?.message.contains("'file'") == true)
    }

    @Test func gpoAssignedPolicy() throws {
        let netsh = NetshHarness()
        #expect(try netsh.s("show gpoassignedpolicy").contains("No IPsec policy is assigned"))
        netsh.stores.gpo = NetshGPOAssignment(
            gpoName: "Server Isolation",
            policyName: "Secure Server",
            policyPath:
                "CN=ipsecPolicy{7238523C-70FA-11D1-864C-14A300000000},CN=IP Security,CN=System,DC=example,DC=test",
            linkedThrough: "OU=Servers,DC=example,DC=test"
        )
        let text = try netsh.s("show gpoassignedpolicy name=\"server isolation\"")
        #expect(text.contains("GPO Name                : Server Isolation"))
        #expect(text.contains("Assigned Policy Name    : Secure Server"))
        #expect(try netsh.s("show gpoassignedpolicy name=Other").contains("\"Other\""))
    }
}

@Suite struct NetshScriptTests {
    @Test func scriptsRunAsOneTransaction() throws {
        let netsh = NetshHarness()
        let script = """
            # a comment
            pushd ipsec static

            add policy A
            add filteraction F
            popd
            """
        _ = try netsh.shell.runScript(script, source: "ok.netsh")
        #expect(netsh.local.policies.count == 1 && netsh.stores.saveCount[.local] == 1)
        #expect(netsh.shell.context.isEmpty)
    }

    @Test func aFailingLineLeavesTheStoreUntouchedAndIsNamed() throws {
        let netsh = NetshHarness()
        try netsh.s("add policy Existing")
        let before = netsh.stores.stores
        let script = """
            pushd ipsec static
            set store location=persistent
            add policy New
            set store location=local
            add policy Another
            add rule name=R policy=Another filterlist=Missing filteraction=Nope
            popd
            """
        do {
            _ = try netsh.shell.runScript(script, source: "bad.netsh")
            Issue.record("the script should fail")
        } catch {
            #expect(error.line == 6 && error.source == "bad.netsh")
            #expect(error.description == #"bad.netsh:6: Filter List with name "Missing" does not exist."#)
        }
        #expect(netsh.stores.stores == before)
        #expect(netsh.shell.staticSession.location == .local)
    }

    @Test func dynamicCommandsInAScriptAreTransactionalToo() throws {
        let netsh = NetshHarness()
        let script = """
            pushd ipsec dynamic
            add mmpolicy MM
            add qmpolicy QM
            add rule srcaddr=me dstaddr=198.18.0.2 mmpolicy=MM qmpolicy=Missing
            popd
            """
        #expect(
            throws: NetshError("Quick mode policy with name \"Missing\" does not exist.", source: "dyn.netsh", line: 4)
        ) {
            try netsh.shell.runScript(script, source: "dyn.netsh")
        }
        #expect(netsh.dynamic.spd == NetshSPD(host: HostInfo(addresses: [IPv4Address(198, 18, 0, 10)])))
        #expect(netsh.dynamic.commitCount == 0)
    }

    /// A script with static and dynamic commands is one transaction across both: a failing dynamic
    /// command keeps the static changes from being saved, a failing static command keeps the dynamic
    /// ones from being sent; a good script's output keeps the order of its lines.
    @Test func mixedScriptsAreOneTransaction() throws {
        let netsh = NetshHarness()
        let failingDynamic = """
            ipsec static add policy Web
            ipsec dynamic add mmpolicy MM
            ipsec dynamic add rule me any MM actioninbound=block actionoutbound=block
            ipsec dynamic add rule me any MM actioninbound=block actionoutbound=block
            """
        #expect(throws: NetshError.self) { try netsh.shell.runScript(failingDynamic, source: "x.netsh") }
        #expect(netsh.local.policies.isEmpty && netsh.dynamic.commitCount == 0)
        do {
            _ = try netsh.shell.runScript(failingDynamic, source: "x.netsh")
        } catch {
            #expect(error.line == 4 && error.message.contains("already exists"), "\(error)")
        }

        let failingStatic = """
            ipsec dynamic add mmpolicy MM
            ipsec static add rule R Missing Missing Missing
            """
        #expect(throws: NetshError.self) { try netsh.shell.runScript(failingStatic, source: "y.netsh") }
        #expect(netsh.dynamic.commitCount == 0)

        let good = """
            ipsec dynamic add mmpolicy MM
            ipsec static show store
            ipsec dynamic show mmpolicy MM
            ipsec static add policy Web
            """
        let output = try netsh.shell.runScript(good, source: "z.netsh")
        #expect(netsh.dynamic.commitCount == 1 && netsh.local.policy(named: "Web") != nil)
        let store = try #require(output.range(of: "The current IPsec policy store is the local store."))
        let policy = try #require(output.range(of: "Policy Name             : MM"))
        #expect(store.lowerBound < policy.lowerBound)
    }

    @Test func contextNavigation() throws {
        let netsh = NetshHarness()
        #expect(netsh.shell.prompt == "netsh>")
        try netsh.run("ipsec static")
        #expect(netsh.shell.prompt == "netsh ipsec static>")
        try netsh.run("add policy A")
        try netsh.run("..")
        #expect(netsh.shell.context == ["ipsec"])
        try netsh.run("dynamic")
        #expect(netsh.shell.context == ["ipsec", "dynamic"])
        try netsh.run("static add policy B")  // a sibling context's command from here
        try netsh.run("pushd ipsec static", "delete policy A", "popd")
        #expect(netsh.shell.context == ["ipsec", "dynamic"])
        try netsh.run("IPSEC STATIC ADD FILTERLIST Upper")
        #expect(netsh.local.policies.map(\.name) == ["B"] && netsh.local.filterLists.count == 1)
        try netsh.run("exit")
        #expect(netsh.shell.exitRequested)
        #expect(
            netsh.error("ipsec static frobnicate")?.message
                == "The following command was not found: ipsec static frobnicate."
        )
        #expect(
            netsh.error("ipsec static add widget")?.message
                == "The following command was not found: ipsec static add widget."
        )
    }
}

@Suite struct NetshHelpTests {
    @Test func helpAtEveryLevel() throws {
        let netsh = NetshHarness()
        #expect(try netsh.run("help").contains("ipsec          - Changes to the `netsh ipsec' context."))
        #expect(try netsh.run("ipsec ?").contains("static"))
        let staticHelp = try netsh.run("ipsec static help")
        for verb in ["add", "delete", "dump", "exportpolicy", "importpolicy", "set", "show"] {
            #expect(staticHelp.contains("\n\(verb) "))
        }
        let dynamicHelp = try netsh.run("ipsec dynamic ?")
        #expect(dynamicHelp.contains("add") && !dynamicHelp.contains("exportpolicy"))
        let addGroup = try netsh.run("ipsec static add ?")
        for object in ["filter", "filteraction", "filterlist", "policy", "rule"] {
            #expect(addGroup.contains("add \(object) "))
        }
        // A verb alone lists its commands, as `show ?` does.
        #expect(try netsh.run("ipsec static show") == netsh.run("ipsec static show ?"))
    }

    /// Each command of a context is listed once (its handler comes with it: a command without one does
    /// not compile), so the shell finds exactly one handler per name.
    @Test func everyCommandNameIsListedOnce() {
        for specs in [NetshStaticSession.specs, NetshDynamicSession.specs] {
            let names = specs.map(\.name)
            #expect(Set(names).count == names.count, "\(names)")
        }
    }

    @Test func everyCommandHasUsage() throws {
        let netsh = NetshHarness()
        for spec in NetshStaticSession.specs {
            let text = try netsh.run("ipsec static \(spec.name) ?")
            #expect(text.hasPrefix("Usage: \(spec.name)"))
            for parameter in spec.parameters { #expect(text.contains(parameter.name)) }
        }
        for spec in NetshDynamicSession.specs {
            let text = try netsh.run("ipsec dynamic \(spec.name) ?")
            #expect(text.hasPrefix("Usage: \(spec.name)"))
        }
        let usage = try netsh.run("ipsec static add policy ?")
        #expect(usage.contains("Usage: add policy [ name = ] <string>\n"))
        #expect(usage.contains("[ [ mmpfs = ] (yes | no) ]"))
        #expect(usage.contains("Remarks:"))
        #expect(try netsh.run("ipsec static set policy ?").contains("[ name = ] <string> | [ guid = ] <guid>"))
    }
}

@Suite struct NetshDocumentationTests {
    /// docs/netsh.md has a row for every command of both contexts.
    @Test func everyCommandIsDocumented() throws {
        let docs = NetshFixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("docs/netsh.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let staticPart = try #require(text.components(separatedBy: "## `netsh ipsec dynamic`").first)
        let dynamicPart = try #require(text.components(separatedBy: "## `netsh ipsec dynamic`").last)
        func documented(_ spec: NetshCommandSpec, in part: String) -> Bool {
            part.split(separator: "\n").contains { line in
                guard line.hasPrefix("| `") else { return false }
                let cell = line.split(separator: "|", omittingEmptySubsequences: true).first.map(String.init) ?? ""
                guard let object = spec.object else { return cell.contains("`\(spec.verb)") }
                return cell.contains(object) && cell.contains(spec.verb)
            }
        }
        for spec in NetshStaticSession.specs {
            #expect(documented(spec, in: staticPart), "static \(spec.name)")
        }
        for spec in NetshDynamicSession.specs {
            #expect(documented(spec, in: dynamicPart), "dynamic \(spec.name)")
        }
    }
}
