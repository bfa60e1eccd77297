import Foundation
import PolicyFormats
import PolicyModel
import Providers
import Testing

/// The committed DSML and LDIF fixtures are what ``SnapshotFixtures`` describes. Set
/// `IPSECSVC_REGENERATE_FIXTURES=1` to rewrite them after changing the description.
@Suite struct SnapshotFixtureFileTests {
    @Test(arguments: SnapshotFixtures.Variant.allCases)
    func fixtureIsUpToDate(_ variant: SnapshotFixtures.Variant) throws {
        let generated = try SnapshotFixtures.bytes(variant)
        let path = SnapshotFixtures.path(variant)
        if ProcessInfo.processInfo.environment["IPSECSVC_REGENERATE_FIXTURES"] == "1" {
            try Data(generated).write(to: URL(fileURLWithPath: path))
        }
        let committed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(committed == generated, "\(path) is out of date")
        let tree = try #require(try FormatsSnapshotReader().read(path: path))
        #expect(tree.entry(SnapshotFixtures.Computer.web.rawValue) != nil)
    }

    /// `Fixtures/local-policies.xml`: two unassigned policies in the native format, for `policy import`.
    @Test func localPoliciesFixtureIsUpToDate() throws {
        var store = Fixtures.simple("Local Policy", space: 0x60)
        store.merge(Fixtures.simple("Lab Policy", space: 0x61, action: .permit))
        store.assignedPolicyID = nil
        let generated = NativePolicyXML.write(store)
        let path = SnapshotFixtures.path(.base).replacingOccurrences(
            of: "directory-base.ldif",
            with: "local-policies.xml"
        )
        if ProcessInfo.processInfo.environment["IPSECSVC_REGENERATE_FIXTURES"] == "1" {
            try Data(generated).write(to: URL(fileURLWithPath: path))
        }
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == generated)
        #expect(try NativePolicyXML.read(generated, file: path) == store)
    }
}
