import Foundation
import IPsecTestKit
import Testing

/// `policy import|convert|validate` with netsh scripts as a policy file format (`--format netsh`,
/// `.netsh`): the script runs on an empty store as one transaction; writing gives `netsh ipsec dump`.
@Suite struct PolicyCLINetshFormatTests {
    static let script = """
        # Block telnet from the lab subnet
        pushd ipsec static
        add policy name=Lockdown description="No telnet" assign=yes
        add filteraction name=Block action=block
        add filter filterlist=Telnet srcaddr=198.18.4.0 srcmask=24 dstaddr=me protocol=TCP dstport=23
        add rule name=NoTelnet policy=Lockdown filterlist=Telnet filteraction=Block
        popd
        """

    @Test func importWithFormatNetshFillsTheLocalStore() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-cli")
        defer { directory.remove() }
        let path = directory.file("lockdown.txt")
        try Self.script.write(toFile: path, atomically: true, encoding: .utf8)
        let offline = [
            "--config", "/dev/null", "--state-dir", directory.file("state"),
            "--socket", directory.file("none.sock"),
        ]
        let imported = try await IPsecSvcProcess.run(
            ["policy", "import", path, "--format", "netsh", "--store", "local", "--assign", "Lockdown"] + offline
        )
        #expect(imported.status == 0, "\(imported.standardError)")
        let effective = try await IPsecSvcProcess.run(["policy", "show", "--effective", "--json"] + offline)
        #expect(effective.status == 0, "\(effective.standardError)")
        #expect(effective.standardOutput.contains("Lockdown"))
        #expect(effective.standardOutput.contains("198.18.4.0"))
    }

    @Test func convertRoundTripsThroughTheDump() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-cli")
        defer { directory.remove() }
        let script = directory.file("lockdown.netsh")
        let xml = directory.file("lockdown.xml")
        let dump = directory.file("dump.netsh")
        let again = directory.file("again.xml")
        try Self.script.write(toFile: script, atomically: true, encoding: .utf8)
        #expect(try await IPsecSvcProcess.run(["policy", "convert", script, xml]).status == 0)
        #expect(try await IPsecSvcProcess.run(["policy", "convert", xml, dump]).status == 0)
        #expect(try await IPsecSvcProcess.run(["policy", "convert", dump, again]).status == 0)
        // Running a script makes new objects: only their GUIDs, and so the writer's GUID order, differ.
        #expect(try withoutGUIDs(xml) == withoutGUIDs(again))
    }

    @Test func aFailingLineIsNamedAndNothingIsRead() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-cli")
        defer { directory.remove() }
        let path = directory.file("bad.netsh")
        try "pushd ipsec static\nadd policy name=X\nadd bogus\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await IPsecSvcProcess.run(["policy", "validate", path])
        #expect(result.status == 1)
        #expect(result.errorLines == ["\(path):3: The following command was not found: add bogus."])
    }
}

private func withoutGUIDs(_ path: String) throws -> [String] {
    try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
        of: "\\{[0-9a-fA-F-]{36}\\}",
        with: "{GUID}",
        options: .regularExpression
    )
    .split(separator: "\n").map(String.init).sorted()
}
