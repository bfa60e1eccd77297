import Foundation
import IPsecTestKit
import Netsh
import PolicyFormats
import PolicyModel
import Testing

/// netsh on the policies ipsecsvc ships in `policies-xml/` (the three Windows example policies).
@Suite struct NetshShippedPolicyTests {
    static let examples = [
        "client-respond-only.xml", "server-request-security.xml", "secure-server-require-security.xml",
    ]

    /// The three example policies in one local store, as a fresh Windows Server 2003 has them.
    static func exampleStore() throws -> PolicyStore {
        let root = NetshFixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("policies-xml")
        var store = PolicyStore()
        for name in examples {
            let path = root.appendingPathComponent(name).path
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            store.merge(try NativePolicyXML.read(bytes, file: path))
        }
        return store
    }

    @Test func showAllReadsLikeWindows() throws {
        let netsh = NetshHarness()
        netsh.stores.stores[.local] = try Self.exampleStore()
        let text = try netsh.s("show all")
        let golden = "windows-example-policies-xml.show-all.txt"
        if NetshFixtures.recording {
            try NetshFixtures.write(text, golden)
            return
        }
        #expect(text == (try NetshFixtures.text(golden)))
        for policy in ["Client (Respond Only)", "Server (Request Security)", "Secure Server (Require Security)"] {
            #expect(text.contains("Policy Name             : \(policy)"))
        }
        #expect(text.contains("GUID                    : {72385230-70FA-11D1-864C-14A300000000}"))
    }

    @Test func dumpOfTheExamplePoliciesRoundTrips() throws {
        let original = try Self.exampleStore()
        let script = NetshDump.script(for: original, location: .local)
        let replay = NetshHarness()
        _ = try replay.shell.runScript(script, source: "dump")
        let rebuilt = try #require(replay.stores.stores[.local])
        // netsh has no parameter for the name and description of the default response rule's action,
        // nor for the main mode's instance GUID; it writes Windows' lifetime 0 ("the default") as the
        // default's 480 minutes and puts the default response rule where `add policy` creates it.
        func comparable(_ store: PolicyStore) -> PolicyStore {
            var store = store
            for index in store.policies.indices {
                store.policies[index].mainMode.instanceID = .zero
                if store.policies[index].mainMode.lifetimeSeconds == 0 {
                    store.policies[index].mainMode.lifetimeSeconds = 28_800
                }
                let rules = store.policies[index].rules
                store.policies[index].rules = rules.filter { !$0.isDefaultResponse } + rules.filter(\.isDefaultResponse)
            }
            store = CanonicalStore.canonical(store)
            for index in store.filterActions.indices where store.filterActions[index].type == .defaultResponse {
                store.filterActions[index].name = ""
                store.filterActions[index].description = ""
            }
            return store
        }
        #expect(comparable(rebuilt) == comparable(original))
    }
}

extension PolicyStore {
    /// Adds another store's objects (test helper: the shipped files hold one policy each).
    mutating func merge(_ other: PolicyStore) {
        policies += other.policies.filter { policy in !policies.contains { $0.id == policy.id } }
        filterLists += other.filterLists.filter { list in !filterLists.contains { $0.id == list.id } }
        filterActions += other.filterActions.filter { action in !filterActions.contains { $0.id == action.id } }
    }
}

@Suite struct NetshScriptReaderTests {
    @Test func aScriptIsAPolicyFile() throws {
        let name = "05-management-station-persistent.netsh"
        let store = try NetshScriptReader.read(Array(try NetshFixtures.text(name).utf8), file: name)
        #expect(store.assignedPolicy?.name == "Management Station")
        let expected = NetshHarness()
        _ = try expected.shell.runScript(try NetshFixtures.text(name), source: name)
        #expect(
            CanonicalStore.canonical(store)
                == CanonicalStore.canonical(try #require(expected.stores.stores[.persistent]))
        )
    }

    @Test func theCodecAddsScriptsToAPolicyFileTable() throws {
        let files = PolicyFile.builtIn.adding(NetshScriptCodec())
        let path = NetshFixtures.directory.appendingPathComponent("05-management-station-persistent.netsh").path
        #expect(files.format(forPath: path) == .netsh)
        #expect(try files.read(path: path).assignedPolicy?.name == "Management Station")
        let dump = try files.encode(try files.read(path: path), format: .netsh, file: "out.netsh")
        #expect(String(decoding: dump, as: UTF8.self).contains("add policy name=\"Management Station\""))
    }

    @Test func errorsNameFileAndLine() {
        let script = "pushd ipsec static\nadd policy P\nadd rule R P Missing Nope\n"
        #expect(
            throws: PolicyFormatError(
                file: "x.netsh",
                line: 3,
                message: #"Filter List with name "Missing" does not exist."#
            )
        ) {
            try NetshScriptReader.read(Array(script.utf8), file: "x.netsh")
        }
        #expect(throws: PolicyFormatError.self) {
            try NetshScriptReader.read(Array("ipsec dynamic add mmpolicy MM\n".utf8), file: "d.netsh")
        }
        #expect(throws: PolicyFormatError.self) {
            try NetshScriptReader.read(
                Array("ipsec static add policy A\nipsec static set store persistent\nipsec static add policy B\n".utf8),
                file: "two.netsh"
            )
        }
    }
}
