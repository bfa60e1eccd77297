import Foundation
import IPsecTestKit
import PolicyModel
import Testing

/// The benchmarks' policies are generated: the same seed must give the same bytes whatever is done to
/// the generators' code, or figures measured before and after a change compare different policies.
@Suite struct GeneratedPolicyTests {
    /// FNV-1a over the policy's JSON with sorted keys.
    static func fingerprint(_ policy: EffectivePolicy) throws -> UInt64 {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in try encoder.encode(policy) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    @Test func theSyntheticPolicyIsTheSameForItsSeed() async throws {
        let prints = try await offThePool {
            try [1, 7].map { try Self.fingerprint(SyntheticPolicy.make(count: 3000, seed: $0)) }
        }
        // Measured with the generator before its actions came from ``SplitMix/filterActions(_:)``.
        #expect(prints == [0xBD1F_654F_2BF6_93E7, 0x8831_FBD4_682A_649E])
    }

    @Test func theDiversePolicyIsTheSameForItsSeed() async throws {
        let prints = try await offThePool {
            try [1, 7].map { try Self.fingerprint(DiversePolicy.make(count: 3000, seed: $0)) }
        }
        // Measured with the generator before its actions came from ``SplitMix/filterActions(_:)``.
        #expect(prints == [0x1B7E_8A1F_47F4_C035, 0x6F54_6649_5A7B_3712])
    }
}
