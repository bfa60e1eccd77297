import Foundation
import Testing

/// A fresh machine has Windows' three example policies in its local store, unassigned, whether the
/// service or netsh touches the store first; `--no-examples` and `examples = no` leave it empty.
@Suite struct ExamplePoliciesIntegrationTests {
    static let policies = ["Client (Respond Only)", "Server (Request Security)", "Secure Server (Require Security)"]

    static func netsh(_ sandbox: ServiceSandbox, _ arguments: [String]) async throws -> ProcessResult {
        try await sandbox.execute(["netsh", "--config", sandbox.configPath] + arguments)
    }

    static func effective(_ sandbox: ServiceSandbox) async throws -> String {
        try await sandbox.execute(["policy", "show", "--effective"] + sandbox.commonArguments).output
    }

    @Test func aFreshStateDirectoryHasTheExamplesAndClientRespondOnlyCanBeAssigned() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        let service = try sandbox.startRun()
        defer { service.terminate() }
        #expect(await sandbox.waitForRunning(), "log:\n\(service.output)")

        let shown = try await Self.netsh(sandbox, ["ipsec", "static", "show", "policy", "all"])
        #expect(shown.status == 0, "\(shown.output)")
        for name in Self.policies { #expect(shown.output.contains("Policy Name             : \(name)")) }
        #expect(!shown.output.contains("Assigned                : YES"))
        let lists = try await Self.netsh(sandbox, ["ipsec", "static", "show", "filterlist", "all"]).output
        #expect(lists.contains("All IP Traffic") && lists.contains("All ICMP Traffic"))
        let actions = try await Self.netsh(sandbox, ["ipsec", "static", "show", "filteraction", "all"]).output
        for name in ["Permit", "Request Security (Optional)", "Require Security"] {
            #expect(actions.contains("FilterAction Name       : \(name)"), "\(actions)")
        }
        #expect(try await Self.effective(sandbox).contains("local              not-configured"))

        let assigned = try await Self.netsh(
            sandbox,
            ["ipsec", "static", "set", "policy", "name=Client (Respond Only)", "assign=yes"]
        )
        #expect(assigned.status == 0, "\(assigned.output)")
        let effective = try await Self.effective(sandbox)
        #expect(effective.contains("local              in-effect      \"Client (Respond Only)\""), "\(effective)")
    }

    /// netsh before the service ever ran: the store is created with the examples right then.
    @Test func netshOnAMachineWhereTheServiceNeverRanFindsTheExamples() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        let assigned = try await Self.netsh(
            sandbox,
            ["ipsec", "static", "set", "policy", "name=Client (Respond Only)", "assign=yes"]
        )
        #expect(assigned.status == 0, "\(assigned.output)")
        let service = try sandbox.startRun()
        defer { service.terminate() }
        #expect(await sandbox.waitForRunning(), "log:\n\(service.output)")
        #expect(
            try await Self.effective(sandbox).contains("local              in-effect      \"Client (Respond Only)\"")
        )
    }

    @Test func noExamplesLeavesTheStoreEmpty() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        let service = try ServiceProcess(
            [ServiceHarness.executable, "run", "--no-examples"] + sandbox.commonArguments,
            output: sandbox.logPath
        )
        defer { service.terminate() }
        #expect(await sandbox.waitForRunning(), "log:\n\(service.output)")
        let shown = try await Self.netsh(sandbox, ["ipsec", "static", "show", "policy", "all"])
        #expect(!shown.output.contains("Policy Name"), "\(shown.output)")
        // The first start recorded the choice: netsh, with the default setting, adds nothing later.
        let refused = try await Self.netsh(
            sandbox,
            ["ipsec", "static", "set", "policy", "name=Client (Respond Only)", "assign=yes"]
        )
        #expect(refused.status == 1 && refused.output.contains("does not exist"), "\(refused.output)")
    }

    @Test func theExamplesSettingNoKeepsNetshFromAddingThem() async throws {
        let sandbox = try ServiceSandbox(extraConfig: "examples = no\n")
        defer { sandbox.remove() }
        let shown = try await Self.netsh(sandbox, ["ipsec", "static", "show", "all"])
        #expect(shown.status == 0 && !shown.output.contains("Policy Name"), "\(shown.output)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory + "/local.xml"))
    }
}
