import FormatFuzzing
import Foundation
import IPsecTestKit
import Testing

/// A short slice of the `netsh-shell` and `ipv4` fuzz targets (Fuzz/README.md) from their seed
/// corpora, so that every test run checks their oracles on mutated input.
@Suite struct ShellAndPacketFuzzSliceTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fuzz/corpus").standardized

    static func seeds(_ target: FuzzTarget) throws -> [[UInt8]] {
        let directory = corpus.appendingPathComponent(target.rawValue)
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map {
            Array(try Data(contentsOf: directory.appendingPathComponent($0)))
        }
    }

    @Test func netshShell() async throws {
        let seeds = try Self.seeds(.netshShell)
        #expect(seeds.count >= 8)
        let statistics = try await offThePool {
            FormatFuzzing.loop(.netshShell, seeds: seeds, iterations: 300, seed: 7)
        }
        #expect(statistics.inputs == 300)
        #expect(statistics.accepted > 0)
        #expect(statistics.slowestSeconds < 1)
    }

    @Test func ipv4() async throws {
        let seeds = try Self.seeds(.ipv4)
        #expect(seeds.count >= 10)
        let statistics = try await offThePool {
            FormatFuzzing.loop(.ipv4, seeds: seeds, iterations: 600, seed: 7)
        }
        #expect(statistics.inputs == 600)
        #expect(statistics.accepted > 0)
        #expect(statistics.slowestSeconds < 1)
    }
}
