import Foundation
import PolicyModel
import Testing

/// Conflicting imports against the real service, through every way in: `policy import`, a raw
/// `policy.import` on the control socket (a client that skips the CLI's checks), `netsh ipsec static
/// importpolicy` and a `netsh -f` script. Each is refused as a whole with the conflicts named; the local
/// store stays byte for byte as it was, still loads, and its policy stays in force, also after a restart.
@Suite struct StoreConflictIntegrationTests {
    static let assigned = "Block Telnet and SMB"
    static let assignedID = "{21931ee1-e61b-44d4-928a-6616fd83ceaa}"
    static var shipped: URL { IPsecSvcProcess.packageRoot.appendingPathComponent("policies-xml") }

    /// A running service whose local store has `block-telnet-smb.xml` assigned.
    struct Running {
        let sandbox: ServiceSandbox
        let service: ServiceProcess
        var store: String { sandbox.stateDirectory + "/local.xml" }

        static func start() async throws -> Running {
            // Without the examples, whose own "Permit" would make three.
            let sandbox = try ServiceSandbox(extraConfig: "examples = no\n")
            let service = try sandbox.startRun()
            let running = Running(sandbox: sandbox, service: service)
            #expect(await sandbox.waitForRunning(), "log:\n\(service.output)")
            let imported = try await running.ipsecsvc(
                ["policy", "import", shipped.appendingPathComponent("block-telnet-smb.xml").path, "--assign", assigned]
            )
            #expect(imported.status == 0, "\(imported.output)")
            return running
        }

        func ipsecsvc(_ arguments: [String]) async throws -> ProcessResult {
            try await sandbox.execute(arguments + sandbox.commonArguments)
        }

        func netsh(_ arguments: [String]) async throws -> ProcessResult {
            try await sandbox.execute(["netsh", "--config", sandbox.configPath] + arguments)
        }

        func write(_ text: String, _ name: String) throws -> String {
            let path = sandbox.root + "/" + name
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        func storeBytes() throws -> Data { try Data(contentsOf: URL(fileURLWithPath: store)) }

        /// The local store loads and its assigned policy is the one in force.
        func expectPolicyInForce(filters: Int = 10, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let effective = try await ipsecsvc(["policy", "show", "--effective"])
            #expect(effective.status == 0, "\(effective.output)", sourceLocation: sourceLocation)
            #expect(
                effective.output.contains("local              in-effect      \"\(assigned)\""),
                "\(effective.output)",
                sourceLocation: sourceLocation
            )
            #expect(effective.output.contains("Effective filters (\(filters))"), sourceLocation: sourceLocation)
            let exported = try await ipsecsvc(["policy", "export", "-"])
            #expect(exported.status == 0, "the store does not load: \(exported.output)", sourceLocation: sourceLocation)
        }

        /// `result` failed with every text of `naming`, the store is unchanged and its policy in force.
        func expectRefused(
            _ result: ProcessResult,
            before: Data,
            naming: [String],
            sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            #expect(result.status == 1, "exit \(result.status): \(result.output)", sourceLocation: sourceLocation)
            for text in naming {
                #expect(result.output.contains(text), "\(result.output)", sourceLocation: sourceLocation)
            }
            #expect(try storeBytes() == before, "the local store changed", sourceLocation: sourceLocation)
            try await expectPolicyInForce(sourceLocation: sourceLocation)
        }
    }

    /// `secure-server-subnet.xml` with its filter list taking the GUID of the assigned policy.
    static func clashingFile() throws -> String {
        try String(contentsOf: shipped.appendingPathComponent("secure-server-subnet.xml"), encoding: .utf8)
            .replacingOccurrences(of: "{badb9174-d97d-4a68-b43e-04b55fb56c01}", with: assignedID)
    }

    @Test func conflictingImportsLeaveTheStoreAndThePolicyInForce() async throws {
        let running = try await Running.start()
        defer {
            running.service.terminate()
            running.sandbox.remove()
        }
        try await running.expectPolicyInForce()
        let before = try running.storeBytes()
        let clash = try running.write(try Self.clashingFile(), "clash.xml")
        let naming = ["filter list \"Server subnet\"", "is already the id of policy \"\(Self.assigned)\""]

        // The CLI.
        try await running.expectRefused(
            try await running.ipsecsvc(["policy", "import", clash]),
            before: before,
            naming: ["local.xml was not changed"] + naming
        )
        // An invalid object in the middle of an otherwise good file.
        let middle = try String(
            contentsOf: Self.shipped.appendingPathComponent("secure-server-subnet.xml"),
            encoding: .utf8
        )
        .replacingOccurrences(of: #"protocol="udp" sourcePort="161""#, with: #"protocol="icmp" sourcePort="161""#)
        try await running.expectRefused(
            try await running.ipsecsvc(["policy", "import", try running.write(middle, "middle.xml")]),
            before: before,
            naming: ["filter list \"Monitoring station\" › filter 1 › sourcePort: ports need protocol TCP or UDP"]
        )
        // A ten-million-character name: refused by the reader, in a message of normal length.
        let huge = try String(
            contentsOf: Self.shipped.appendingPathComponent("secure-server-subnet.xml"),
            encoding: .utf8
        )
        .replacingOccurrences(
            of: #"name="Secure server subnet""#,
            with: "name=\"\(String(repeating: "n", count: 10_000_000))\""
        )
        let hugeResult = try await running.ipsecsvc(["policy", "import", try running.write(huge, "huge.xml")])
        try await running.expectRefused(hugeResult, before: before, naming: ["huge.xml:"])
        #expect(hugeResult.output.count < 2_000)

        // netsh importpolicy, and a script whose last line conflicts: nothing of the script is saved.
        try await running.expectRefused(
            try await running.netsh(["ipsec", "static", "importpolicy", "file=\(clash)"]),
            before: before,
            naming: ["The local store was not changed"] + naming
        )
        let script = try running.write(
            "ipsec static add filterlist name=\"Added first\"\nipsec static importpolicy file=\(clash)\n",
            "clash.netsh"
        )
        try await running.expectRefused(
            try await running.netsh(["-f", script]),
            before: before,
            naming: ["The local store was not changed"] + naming + ["No change was made"]
        )

        // netsh edits with over-long names: one command, and a script of ten million characters.
        try await running.expectRefused(
            try await running.netsh([
                "ipsec", "static", "add", "filterlist", "name=\(String(repeating: "l", count: 2_000))",
            ]),
            before: before,
            naming: ["The local store was not changed", "2000 characters is longer than the limit of 1024"]
        )
        let longScript = try running.write(
            "ipsec static add filterlist name=Fine\nipsec static add policy name=\(String(repeating: "p", count: 10_000_000))\n",
            "long.netsh"
        )
        let longNetsh = try await running.netsh(["-f", longScript])
        try await running.expectRefused(
            longNetsh,
            before: before,
            naming: ["10000000 characters is longer than the limit of 1024"]
        )
        #expect(longNetsh.output.count < 2_000)

        // The control socket, with what a client could send without the CLI's checks.
        var dangling = Self.serversStore()
        let missing = dangling.filterLists.removeFirst().id
        try await running.expectRefused(
            Self.socketImport(running.sandbox, dangling),
            before: before,
            naming: ["rule \"Servers\" › filter list: refers to filter list \(missing), which is not in the store"]
        )
        var long = Self.serversStore()
        long.policies[0].name = String(repeating: "n", count: 100_000)
        let longResult = Self.socketImport(running.sandbox, long)
        try await running.expectRefused(
            longResult,
            before: before,
            naming: ["100000 characters is longer than the limit of 1024"]
        )
        #expect(longResult.output.count < 2_000)

        // What was in force is what the service starts with. (Killed and reaped first: a new `run` that
        // still finds the old one listening refuses to start, 1056.)
        _ = await running.service.terminateAndWait()
        let again = try running.sandbox.startRun()
        defer { again.terminate() }
        #expect(await running.sandbox.waitForRunning(), "log:\n\(again.output)")
        try await running.expectPolicyInForce()
    }

    /// Windows' identity rule: a same-named object with its own GUID is kept beside the first, and netsh
    /// then asks for the GUID.
    @Test func sameNameOtherGUIDIsKeptAndNetshAsksForTheGUID() async throws {
        let running = try await Running.start()
        defer {
            running.service.terminate()
            running.sandbox.remove()
        }
        // Both shipped files bring a filter action called "Permit", each with its own GUID.
        let other = Self.shipped.appendingPathComponent("secure-server-subnet.xml").path
        let imported = try await running.ipsecsvc(["policy", "import", other])
        #expect(imported.status == 0, "\(imported.output)")
        try await running.expectPolicyInForce()
        let exported = try await running.ipsecsvc(["policy", "export", "-"])
        #expect(exported.output.components(separatedBy: #"name="Permit""#).count - 1 == 2)

        let ambiguous = try await running.netsh([
            "ipsec", "static", "set", "filteraction", "name=Permit", "description=x",
        ])
        #expect(ambiguous.status == 1)
        #expect(
            ambiguous.output.contains(
                "2 filter actions are named \"Permit\" ({d5c85697-4967-48dd-87be-48631ce349e7}, {a0126f3d-0a06-4177-bd75-c4ef7d9c3a4e}); give the GUID instead of the name"
            ),
            "\(ambiguous.output)"
        )
        let byGUID = try await running.netsh(
            [
                "ipsec", "static", "set", "filteraction", "guid={a0126f3d-0a06-4177-bd75-c4ef7d9c3a4e}",
                "description=chosen",
            ]
        )
        #expect(byGUID.status == 0, "\(byGUID.output)")
        let rule = try await running.netsh(
            [
                "ipsec", "static", "add", "rule", "name=Extra", "policy=\(Self.assigned)", "filterlist=Server subnet",
                "filteraction={a0126f3d-0a06-4177-bd75-c4ef7d9c3a4e}",
            ]
        )
        #expect(rule.status == 0, "\(rule.output)")
        try await running.expectPolicyInForce(filters: 11)

        // Same GUID, other content: the import replaces the objects (the policy as the file has it, without
        // the rule netsh added), and the new content is in force.
        let changed = try String(
            contentsOf: Self.shipped.appendingPathComponent("block-telnet-smb.xml"),
            encoding: .utf8
        )
        .replacingOccurrences(of: #"destinationPort="23""#, with: #"destinationPort="2323""#)
        let replaced = try await running.ipsecsvc(["policy", "import", try running.write(changed, "changed.xml")])
        #expect(replaced.status == 0, "\(replaced.output)")
        try await running.expectPolicyInForce(filters: 10)
        let effective = try await running.ipsecsvc(["policy", "show", "--effective"]).output
        #expect(effective.contains("any -> me:2323 TCP") && !effective.contains("any -> me:23 TCP"), "\(effective)")
    }

    /// One policy, "Servers", whose rule "Servers" uses a filter list and a permit action.
    static func serversStore() -> PolicyStore {
        func guid(_ n: UInt8) -> IPsecGUID { IPsecGUID("{5e5e5e5e-0000-4000-8000-0000000000\(String(n, radix: 16))}")! }
        let list = FilterList(
            id: guid(0x11),
            name: "Server list",
            filters: [Filter(id: guid(0x12), source: .me, destination: .host(IPv4Address(198, 19, 20, 1)))]
        )
        let action = FilterAction(id: guid(0x13), name: "Server action", action: .permit)
        let policy = IPsecPolicy(
            id: guid(0x14),
            name: "Servers",
            mainMode: MainModeSettings(id: guid(0x15)),
            rules: [Rule(id: guid(0x16), name: "Servers", filterListIDs: [list.id], filterActionID: action.id)]
        )
        return PolicyStore(policies: [policy], filterLists: [list], filterActions: [action])
    }

    /// Sends `policy.import` for the local store straight to the socket and returns the answer as the CLI
    /// would show it: exit 1 and the error message when refused.
    static func socketImport(_ sandbox: ServiceSandbox, _ store: PolicyStore) -> ProcessResult {
        struct Body: Encodable {
            var store = "local"
            var policies: PolicyStore
        }
        struct Request: Encodable {
            var version = 1
            var command = "policy.import"
            var body: Body
        }
        let json = (try? JSONEncoder().encode(Request(body: Body(policies: store)))) ?? Data()
        let answer = RawControl.exchange(sandbox.socket, Array(json) + [0x0A])
        let object = (try? JSONSerialization.jsonObject(with: Data(answer.utf8))) as? [String: Any] ?? [:]
        let ok = object["ok"] as? Bool == true
        let message = (object["error"] as? [String: Any])?["message"] as? String ?? answer
        return ProcessResult(status: ok ? 0 : 1, output: message)
    }
}
