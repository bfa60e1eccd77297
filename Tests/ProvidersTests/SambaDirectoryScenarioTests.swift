import Foundation
import IPsecTestKit
import PolicyFormats
import PolicyModel
import Providers
import Testing

/// A domain as Samba provisions it — Windows' own default IP Security objects, `ipsecDataType: 598` —
/// with a GPO that assigns Server (Request Security): the directory source applies it, and its cached
/// copy passes the store write check (real Windows data is storable as it is).
@Suite struct SambaDirectoryScenarioTests {
    static let fixture = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("PolicyFormatsTests/Fixtures/windows/samba-provision-ipsec.ldif").path
    static let domain = "DC=example,DC=com"
    static let gpo = "CN={31B2F340-016D-11D2-945F-00C04FB984F9},CN=Policies,CN=System,DC=example,DC=com"
    static let computer = "CN=HOST1,OU=Servers,DC=example,DC=com"

    static func snapshot() throws -> [UInt8] {
        let text = try String(contentsOfFile: fixture, encoding: .utf8)
        let provisioned = try LDIF.entries(Array(text.utf8), file: fixture)
        func entry(_ dn: String, _ classes: [String], _ attributes: [(String, String)] = []) -> DirectoryEntry {
            var entry = DirectoryEntry(dn: dn)
            for objectClass in ["top"] + classes { entry.append("objectClass", .text(objectClass)) }
            for (name, value) in attributes { entry.append(name, .text(value)) }
            return entry
        }
        let domain = entry(Self.domain, ["domain", "domainDNS"], [("gPLink", "[LDAP://\(gpo);0]")])
        let gpoEntry = entry(
            gpo,
            ["container", "groupPolicyContainer"],
            [("displayName", "IPsec servers"), ("flags", "0")]
        )
        let assignment = entry(
            "CN=ipsec,CN=Windows,CN=Microsoft,CN=Machine,\(gpo)",
            ["ipsecPolicy"],
            [
                (
                    "ipsecOwnersReference",
                    "CN=ipsecPolicy{72385230-70FA-11D1-864C-14A300000000},CN=IP Security,CN=System,\(Self.domain)"
                )
            ]
        )
        let ou = entry("OU=Servers,\(Self.domain)", ["organizationalUnit"])
        let host = entry(computer, ["computer"])
        return LDIF.write([domain, gpoEntry, assignment, ou, host] + provisioned)
    }

    @Test func theDefaultServerPolicyAppliesFromTheDirectoryAndIsCached() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path + "/snapshot"
        try Data(try Self.snapshot()).write(to: URL(fileURLWithPath: path))
        let events = RecordingEventSink()
        let engine = SourcesPolicyEngine(
            configuration: SourcesConfiguration(
                state: dir.state,
                directory: DirectoryConfiguration(snapshotPath: path, computerDN: Self.computer),
                events: events,
                runsTimers: false
            )
        )
        _ = try await engine.startPersistent()
        let effective = await engine.effectivePolicy()
        #expect(effective.filters.contains { $0.provenance.policyName == "Server (Request Security)" })
        #expect(!events.events.contains { if case .sourceFailed = $0 { true } else { false } }, "\(events.events)")
        // The cache is written beside the apply; on a loaded machine a moment later.
        _ = await eventually {
            if case .loaded = StoreFile(path: dir.state.directoryCache).load() { true } else { false }
        }
        guard case .loaded(let cached, _) = StoreFile(path: dir.state.directoryCache).load() else {
            Issue.record("no directory cache was written")
            return
        }
        #expect(cached.assignedPolicy?.name == "Server (Request Security)")
        #expect(Set(cached.filterLists.map(\.name)) == ["All IP Traffic", "All ICMP Traffic"])
    }
}
