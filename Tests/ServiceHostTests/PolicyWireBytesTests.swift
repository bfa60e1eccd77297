import IPsecTestKit
import PolicyModel
import Testing

@testable import ServiceHost

/// The encoder's bytes are pinned: a change to how it finds groups, contexts or provenances (which is
/// only about speed) must write exactly what the encoder of 2026-12-07 (main 5ca834e) wrote, the
/// driver's saved tables and the fuzz corpus being in that form. Each digest is FNV-1a (64 bits) of the
/// whole encoding, with its length.
@Suite struct PolicyWireBytesTests {
    static func digest(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return "\(bytes.count):" + String(hash, radix: 16)
    }

    /// `count` rules of one filter each (`SyntheticPolicy.ruleByRule`, the restart benchmark's netsh
    /// set-up). `ruleBoxEach`: every filter's rule part in a box of its own, as the merger builds one
    /// rule per filter list; otherwise one box for all.
    static func rules(_ count: Int, ruleBoxEach: Bool) -> EffectivePolicy {
        SyntheticPolicy.ruleByRule(SyntheticPolicy.make(count: count, seed: 7), ruleBoxEach: ruleBoxEach)
    }

    /// The fixtures of `PolicyWireTests`, by context box and by value, and the others the tests encode.
    @Test func fixturesEncodeToThePinnedBytes() async throws {
        let digests = try await offThePool {
            try [
                PolicyWireTests.varied, PolicyWireTests.ownRules, PolicyWireTests.sharingBoxes(PolicyWireTests.varied),
                PolicyWireTests.synthetic, PolicyWireTests.sharingBoxes(PolicyWireTests.synthetic), .empty,
                SyntheticPolicy.make(count: 5000, seed: 7, generation: 9), DiversePolicy.make(count: 2000, seed: 3),
                Self.rules(300, ruleBoxEach: false), Self.rules(300, ruleBoxEach: true),
            ]
            .map { Self.digest(try PolicyWire.encode($0)) }
        }
        #expect(
            digests == [
                "5414:37370f13838793d6", "6293:a5d488c2665c78d3", "5414:37370f13838793d6", "31824:1696db7bc69f4d8",
                "31824:1696db7bc69f4d8", "85:a7ab81fc2984d571", "248256:985853b6e5dcaef3", "103064:570f2be40907d4e2",
                "48941:2a0f6c5ac84899c", "48941:2a0f6c5ac84899c",
            ]
        )
    }

    /// 100,000 rules of one filter each, with one rule box and with a rule box each: the same bytes as
    /// before, and they decode to the policy.
    @Test func hundredThousandRulesEncodeToThePinnedBytes() async throws {
        let results = try await offThePool {
            try [false, true].map { ruleBoxEach in
                let policy = Self.rules(100_000, ruleBoxEach: ruleBoxEach)
                let bytes = try PolicyWire.encode(policy)
                return (Self.digest(bytes), try PolicyWire.decode(bytes) == policy)
            }
        }
        #expect(results.map(\.0) == ["15980141:1975d4d8dbf142ab", "15980141:1975d4d8dbf142ab"])
        #expect(results.map(\.1) == [true, true])
    }
}
