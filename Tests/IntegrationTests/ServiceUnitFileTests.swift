import Foundation
import Testing

/// `systemd-analyze verify` on the shipped units. It works without systemd as PID 1, but it checks
/// that `ExecStart=` exists, so the test verifies copies that point at the built binary.
@Suite struct ServiceUnitFileTests {
    static var analyzer: String? {
        ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test(.enabled(if: analyzer != nil, "systemd-analyze is not installed"))
    func unitsPassSystemdAnalyzeVerify() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        let packaging = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("packaging/systemd")
        var units: [String] = []
        for name in ["ipsecsvc-boot.service", "ipsecsvc.service"] {
            let text = try String(contentsOf: packaging.appendingPathComponent(name), encoding: .utf8)
            #expect(text.contains("ExecStart=/usr/sbin/ipsecsvc "))
            let copy = sandbox.root + "/" + name
            try text.replacingOccurrences(of: "/usr/sbin/ipsecsvc", with: ServiceHarness.executable)
                .write(toFile: copy, atomically: true, encoding: .utf8)
            units.append(copy)
        }
        let process = try ServiceProcess([Self.analyzer!, "verify"] + units, output: sandbox.root + "/verify.out")
        #expect(await process.exited(timeout: 120) == 0, "\(process.output)")
        #expect(process.output.isEmpty, "\(process.output)")
    }
}
