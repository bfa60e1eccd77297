import Foundation
import IPsecTestKit
import Testing

/// `systemd-analyze verify` on the shipped units. It works without systemd as PID 1, but it checks
/// that `ExecStart=` exists, so the test verifies copies that point at the built binary.
@Suite struct ServiceUnitFileTests {
    @Test(.requires(.command("systemd-analyze", package: "systemd")))
    func unitsPassSystemdAnalyzeVerify() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        let packaging = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("packaging/systemd")
        var units: [String] = []
        // Every unit the package ships (scripts/build-deb.sh installs all of packaging/systemd).
        let names = try FileManager.default.contentsOfDirectory(atPath: packaging.path).sorted()
        #expect(names.contains("ipsecsvc.service") && names.contains("ipsecsvc-boot.service"))
        for name in names {
            let text = try String(contentsOf: packaging.appendingPathComponent(name), encoding: .utf8)
            #expect(text.contains("ExecStart=/usr/sbin/ipsecsvc "))
            let copy = sandbox.root + "/" + name
            try text.replacingOccurrences(of: "/usr/sbin/ipsecsvc", with: ServiceHarness.executable)
                .write(toFile: copy, atomically: true, encoding: .utf8)
            units.append(copy)
        }
        let process = try ServiceProcess(
            [MachineRequirement.executablePath("systemd-analyze")!, "verify"] + units,
            output: sandbox.root + "/verify.out"
        )
        #expect(await process.exited(timeout: 120) == 0, "\(process.output)")
        #expect(process.output.isEmpty, "\(process.output)")
    }

    /// Only the driver's unit may configure netfilter; the agent and the boot step run without
    /// `CAP_NET_ADMIN`; the runtime directory (the driver's socket and last table) outlives either.
    @Test func onlyTheDriverUnitHasNetAdmin() throws {
        let packaging = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("packaging/systemd")
        func unit(_ name: String) throws -> [String] {
            try String(contentsOf: packaging.appendingPathComponent(name), encoding: .utf8).split(separator: "\n")
                .map(String.init)
        }
        let driver = try unit("ipsecsvc-driver.service")
        let agent = try unit("ipsecsvc.service")
        let boot = try unit("ipsecsvc-boot.service")
        #expect(driver.contains("CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW"))
        #expect(driver.contains("ExecStart=/usr/sbin/ipsecsvc driver"))
        #expect(driver.contains("WantedBy=network-pre.target"))
        #expect(agent.contains("CapabilityBoundingSet=CAP_CHOWN"))
        #expect(boot.contains("CapabilityBoundingSet="))
        for lines in [agent, boot] {
            #expect(!lines.contains { $0.hasPrefix("CapabilityBoundingSet=") && $0.contains("NET_ADMIN") })
        }
        for lines in [driver, agent] { #expect(lines.contains("RuntimeDirectoryPreserve=yes")) }
        #expect(agent.contains { $0.hasPrefix("After=") && $0.contains("ipsecsvc-driver.service") })
        #expect(boot.contains("Requires=ipsecsvc-driver.service"))
    }
}
