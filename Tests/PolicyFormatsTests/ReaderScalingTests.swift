import Foundation
import IPsecTestKit
import PolicyFormats
import PolicyModel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a scaling check found wrong in the input itself.
enum ScalingFailure: Error { case unexpectedKeys }

/// Every reader takes time linear in its input: reading a policy of 8 × the filters costs about 8 × the
/// CPU time. A quadratic reader needs about 64 × (the `.reg` reader used to take 4 / 18 / 71 s for 500 /
/// 1 000 / 2 000 filters). Measured on this thread's CPU clock, best of three, against a bound of 24 ×,
/// so that a loaded machine does not make the test flaky; the absolute figures are the benchmark's
/// (Benchmarks/readers/run.sh). The netsh script reader has the same test in NetshTests.
@Suite struct ReaderScalingTests {
    static let small = 500
    static let large = 4_000
    static let bound = 24.0

    enum Input: String, CaseIterable, Sendable {
        case xml, reg, ldif, dsml
        /// A `.reg` file that creates and then deletes (`[-key]`) as many keys as the policy has filters.
        case regDeletions

        func bytes(filters: Int) throws -> [UInt8] {
            let store = SyntheticStore.blockList(filters: filters)
            let options = PolicyFileOptions(baseDN: "DC=example,DC=com")
            switch self {
            case .xml: return try PolicyFile.builtIn.encode(store, format: .xml, file: "x", options: options)
            case .reg: return try PolicyFile.builtIn.encode(store, format: .reg, file: "x", options: options)
            case .ldif: return try PolicyFile.builtIn.encode(store, format: .ldif, file: "x", options: options)
            case .dsml: return try PolicyFile.builtIn.encode(store, format: .dsml, file: "x", options: options)
            case .regDeletions:
                var text = RegFile.header5 + "\n"
                for n in 0..<filters { text += "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Test\\K\(n)\\Sub]\n\"v\"=dword:1\n" }
                for n in 0..<filters { text += "[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Test\\K\(n)]\n" }
                return Array(text.utf8)
            }
        }

        func read(_ bytes: [UInt8]) throws {
            switch self {
            case .xml: _ = try PolicyFile.builtIn.decode(bytes, file: "x.xml", format: .xml)
            case .reg: _ = try PolicyFile.builtIn.decode(bytes, file: "x.reg", format: .reg)
            case .ldif: _ = try PolicyFile.builtIn.decode(bytes, file: "x.ldif", format: .ldif)
            case .dsml: _ = try PolicyFile.builtIn.decode(bytes, file: "x.dsml", format: .dsml)
            case .regDeletions:
                // Runs off the test's task (offThePool): a failure must throw, not record an issue.
                guard try RegFile.keys(bytes, file: "x.reg").isEmpty else { throw ScalingFailure.unexpectedKeys }
            }
        }
    }

    @Test(arguments: Input.allCases)
    func readingGrowsLinearlyWithTheInput(_ input: Input) async throws {
        let (smallTime, largeTime) = try await offThePool {
            let smallBytes = try input.bytes(filters: Self.small)
            let largeBytes = try input.bytes(filters: Self.large)
            return (
                try BenchmarkSupport.bestThreadCPUSeconds { try input.read(smallBytes) },
                try BenchmarkSupport.bestThreadCPUSeconds { try input.read(largeBytes) }
            )
        }
        let ratio = largeTime / max(smallTime, 1e-6)
        #expect(
            ratio < Self.bound,
            "\(input): \(Self.large) filters took \(largeTime) s, \(Self.small) took \(smallTime) s: \(ratio) ×"
        )
    }
}
