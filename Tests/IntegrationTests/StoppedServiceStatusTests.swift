import Foundation
import Testing

/// `status` of a stopped service shows the stores as they are: the policies a start would apply, with
/// their sources (it said "none configured" before, whatever was assigned).
@Suite struct StoppedServiceStatusTests {
    @Test func statusOfAStoppedServiceShowsTheStoredAssignments() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let policy = repository.appendingPathComponent("policies-xml/block-telnet-smb.xml").path
        let imported = try await sandbox.execute(
            ["policy", "import", policy, "--assign", "Block Telnet and SMB"] + sandbox.commonArguments
        )
        #expect(imported.status == 0, "\(imported.output)")

        let status = try await sandbox.execute(["status"] + sandbox.commonArguments)
        #expect(status.status == 0, "\(status.output)")
        #expect(status.output.contains("STOPPED"), "\(status.output)")
        #expect(!status.output.contains("none configured"), "\(status.output)")
        #expect(status.output.contains("local (local)"), "\(status.output)")
        #expect(status.output.contains("'Block Telnet and SMB'"), "\(status.output)")
        #expect(status.output.contains("assigned: local: Block Telnet and SMB"), "\(status.output)")

        let json = try await sandbox.execute(["status", "--json"] + sandbox.commonArguments)
        let report = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        let sources = report?["sources"] as? [[String: Any]] ?? []
        #expect(
            sources.contains {
                $0["name"] as? String == "local" && $0["policyName"] as? String == "Block Telnet and SMB"
            }
        )
        // Reading the stores for status writes nothing: no directory cache, no new files.
        #expect(!FileManager.default.fileExists(atPath: sandbox.stateDirectory + "/directory-cache.xml"))
    }
}
