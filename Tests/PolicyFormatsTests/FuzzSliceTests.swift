import FormatFuzzing
import Foundation
import IPsecTestKit
import PolicyFormats
import PolicyModel
import Testing

/// A short slice of the fuzz campaign (Fuzz/README.md) so that every test run exercises the parsers
/// with mutated real data and checks the round-trip oracles.
@Suite struct FuzzSliceTests {
    static let iterations = 600

    @Test func blobDecoder() async throws {
        let seeds = BlobVector.all.map(\.bytes)
        let statistics = try await offThePool {
            FormatFuzzing.loop(.blob, seeds: seeds, iterations: Self.iterations, seed: 7)
        }
        #expect(statistics.inputs == Self.iterations)
        #expect(statistics.accepted > 0)
        #expect(statistics.slowestSeconds < 1)
    }

    @Test func registryReader() async throws {
        let small = try RegistryExport.write(ExamplePolicies.windowsExamples, kind: .persistent)
        let seeds = [try fixture("reg", "gsecurity-local-4.reg"), small]
        let statistics = try await offThePool {
            FormatFuzzing.loop(.reg, seeds: seeds, iterations: Self.iterations, seed: 7)
        }
        #expect(statistics.accepted > 0)
        #expect(statistics.slowestSeconds < 1)
    }

    @Test func ldifReader() async throws {
        let entries = try DirectoryPolicy.entries(ExamplePolicies.everything, container: "CN=IP Security,DC=example")
        let seeds = [LDIF.write(entries)]
        let statistics = try await offThePool {
            FormatFuzzing.loop(.ldif, seeds: seeds, iterations: Self.iterations, seed: 7)
        }
        #expect(statistics.accepted > 0)
        #expect(statistics.slowestSeconds < 1)
    }

    @Test(arguments: [FuzzTarget.netsh, .packet, .control, .wire])
    func corpusTargets(_ target: FuzzTarget) async throws {
        let seeds = try Self.corpus(target)
        let statistics = try await offThePool {
            FormatFuzzing.loop(target, seeds: seeds, iterations: Self.iterations, seed: 7)
        }
        #expect(statistics.accepted > 0)
        #expect(statistics.slowestSeconds < 1)
    }

    /// The seeds of `Fuzz/corpus/TARGET`.
    static func corpus(_ target: FuzzTarget) throws -> [[UInt8]] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/\(target.rawValue)")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        return try names.map { Array(try Data(contentsOf: directory.appendingPathComponent($0))) }
    }
}
