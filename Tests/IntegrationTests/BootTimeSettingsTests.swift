import Foundation
import Testing

/// `ipsecexempt`, `bootmode` and `bootexemptions` take effect when netsh says they do: the default
/// exemptions at the next service start, the startup mode and its exemptions at the next computer
/// startup (`ipsecsvc boot`); until then `netsh ipsec dynamic show config` and `ipsecsvc status` show
/// the value in force and the pending one (issue 12).
@Suite(.serialized) struct BootTimeSettingsTests {
    static func netsh(_ sandbox: ServiceSandbox, _ words: [String]) async throws -> ProcessResult {
        try await sandbox.execute(["netsh", "--config", sandbox.configPath, "ipsec", "dynamic"] + words)
    }

    /// The memory driver's settings as the running service last configured it (`driver-state`).
    static func driverExemptionLevel(_ sandbox: ServiceSandbox) -> Int? {
        (sandbox.driverState()?["settings"] as? [String: Any])?["exemptionLevel"] as? Int
    }

    @Test func defaultExemptionsWaitForTheNextServiceStart() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        var service = try sandbox.startRun()
        defer { service.terminate() }
        #expect(await sandbox.waitForRunning())
        let set = try await Self.netsh(sandbox, ["set", "config", "property=ipsecexempt", "value=1"])
        #expect(set.status == 0 && set.output.contains("when the IPsec service next starts"), "\(set.output)")
        let diagnostics = try await Self.netsh(sandbox, ["set", "config", "property=ipsecdiagnostics", "value=4"])
        #expect(diagnostics.status == 0)

        // In force: 3 (the driver still has it); pending: 1. ipsecdiagnostics applies at once.
        let shown = try await Self.netsh(sandbox, ["show", "config"]).output
        #expect(shown.contains("IPsec Exemptions        : 3 (pending: 1, at the next service start)"), "\(shown)")
        #expect(shown.contains("IPsec Diagnostics       : 4"))
        #expect(Self.driverExemptionLevel(sandbox) == 3)
        let status = try await sandbox.execute(["status"] + sandbox.commonArguments).output
        #expect(status.contains("Pending:      ipsecexempt 1 (in force: 3), at the next service start"), "\(status)")
        let json = try await sandbox.execute(["status", "--json"] + sandbox.commonArguments).output
        let report = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let settings = report?["settings"] as? [String: Any]
        #expect((settings?["service"] as? [String: Any])?["exemptionLevel"] as? Int == 3)
        #expect((settings?["configured"] as? [String: Any])?["exemptionLevel"] as? Int == 1)

        // The next service start applies it.
        let stop = try await sandbox.execute(["service", "stop"] + sandbox.commonArguments)
        #expect(stop.status == 0, "\(stop.output)")
        _ = await service.exited(timeout: 30)
        service = try sandbox.startRun()
        #expect(await sandbox.waitForRunning())
        let after = try await Self.netsh(sandbox, ["show", "config"]).output
        #expect(after.contains("IPsec Exemptions        : 1\n"), "\(after)")
        #expect(!after.contains("pending"))
        #expect(Self.driverExemptionLevel(sandbox) == 1)
    }

    @Test func bootModeWaitsForTheNextComputerStartup() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        try FileManager.default.createDirectory(atPath: sandbox.stateDirectory, withIntermediateDirectories: true)
        try "bootmode = block\nbootexemptions = tcp:0:22:inbound\n".write(
            toFile: sandbox.stateDirectory + "/dynamic-settings.conf",
            atomically: true,
            encoding: .utf8
        )
        #expect(
            try await sandbox.execute(["service", "config", "--start-type", "automatic"] + sandbox.commonArguments)
                .status == 0
        )
        // This computer startup applies block with its exemption, and records it.
        let boot = try await sandbox.execute(["boot"] + sandbox.commonArguments)
        #expect(boot.status == 0, "\(boot.output)")
        #expect(sandbox.driverMode() == "startup block")
        var service = try sandbox.startRun()
        defer { service.terminate() }
        #expect(await sandbox.waitForRunning())
        let inForce = try await Self.netsh(sandbox, ["show", "config"]).output
        #expect(inForce.contains("Boot Mode               : BLOCK\n"), "\(inForce)")
        #expect(inForce.contains("TCP          0        22       INBOUND"))
        #expect(!inForce.contains("pending"))

        // A new boot mode waits for the next computer startup; a service restart does not apply it.
        let set = try await Self.netsh(sandbox, ["set", "config", "property=bootmode", "value=stateful"])
        #expect(set.status == 0 && set.output.contains("next computer startup"), "\(set.output)")
        let stop = try await sandbox.execute(["service", "stop"] + sandbox.commonArguments)
        #expect(stop.status == 0, "\(stop.output)")
        _ = await service.exited(timeout: 30)
        service = try sandbox.startRun()
        #expect(await sandbox.waitForRunning())
        let pending = try await Self.netsh(sandbox, ["show", "config"]).output
        #expect(
            pending.contains("Boot Mode               : BLOCK (pending: STATEFUL, at the next computer startup)"),
            "\(pending)"
        )
        let status = try await sandbox.execute(["status"] + sandbox.commonArguments).output
        #expect(status.contains("Pending:      bootmode stateful (in force: block), at the next computer startup"))
    }
}
