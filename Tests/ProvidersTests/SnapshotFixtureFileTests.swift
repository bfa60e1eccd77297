import Foundation
import PolicyFormats
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
}
