import Foundation
import IPsecTestKit
import Netsh
import PolicyFormats
import PolicyModel
import Testing

/// What a corpus script leaves behind: the stores it touched (canonical) and the dynamic state.
struct CorpusOutcome: Codable, Equatable {
    var local: PolicyStore?
    var persistent: PolicyStore?
    var dynamic: DynamicOutcome?

    /// The service's dynamic policy and settings after the script.
    struct DynamicOutcome: Codable, Equatable {
        var mainModePolicies: [DynamicMainModePolicy]
        var quickModePolicies: [DynamicQuickModePolicy]
        var rules: [DynamicRule]
        var config: DynamicSettings
    }

    init(_ netsh: NetshHarness) {
        local = netsh.stores.stores[.local].map(CanonicalStore.canonical)
        persistent = netsh.stores.stores[.persistent].map(CanonicalStore.canonical)
        let spd = netsh.dynamic.spd
        dynamic =
            netsh.dynamic.commitCount > 0
            ? DynamicOutcome(
                mainModePolicies: spd.policy.mainModePolicies,
                quickModePolicies: spd.policy.quickModePolicies,
                rules: spd.policy.rules,
                config: spd.settings
            ) : nil
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }
}

/// The script corpus: realistic administrator scripts, each with the stores it must produce.
@Suite struct NetshCorpusTests {
    static let scripts: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: NetshFixtures.directory.path)) ?? []
        return names.filter { $0.hasSuffix(".netsh") }.sorted()
    }()

    @Test func corpusHasAtLeastTwentyScripts() {
        #expect(Self.scripts.count >= 20)
    }

    @Test(arguments: scripts)
    func scriptProducesTheExpectedStores(_ name: String) throws {
        let netsh = NetshHarness()
        _ = try netsh.shell.runScript(try NetshFixtures.text(name), source: name)
        let outcome = CorpusOutcome(netsh)
        let expectedName = name.replacingOccurrences(of: ".netsh", with: ".expected.json")
        if NetshFixtures.recording {
            try NetshFixtures.write(try outcome.json(), expectedName)
            return
        }
        let expected = try JSONDecoder().decode(
            CorpusOutcome.self,
            from: Data(try NetshFixtures.text(expectedName).utf8)
        )
        #expect(outcome == expected, "\(name): run with IPSECSVC_RECORD_FIXTURES=1 and review the diff")
    }

    @Test(arguments: scripts)
    func dumpRoundTrips(_ name: String) throws {
        let netsh = NetshHarness()
        _ = try netsh.shell.runScript(try NetshFixtures.text(name), source: name)
        for location in [NetshStoreLocation.local, .persistent] {
            guard let original = netsh.stores.stores[location] else { continue }
            let script = NetshDump.script(for: original, location: location)
            let replay = NetshHarness()
            _ = try replay.shell.runScript(script, source: "dump of \(name)")
            let rebuilt = try #require(replay.stores.stores[location])
            #expect(CanonicalStore.canonical(rebuilt) == CanonicalStore.canonical(original), "\(name) \(location)")
            // The dump of the rebuilt store is the same script again.
            #expect(NetshDump.script(for: rebuilt, location: location) == script)
        }
    }
}
