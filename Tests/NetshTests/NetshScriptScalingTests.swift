import IPsecTestKit
import Netsh
import PolicyFormats
import PolicyModel
import Testing

/// The netsh script reader takes time linear in its input, like PolicyFormats' readers
/// (PolicyFormatsTests' `ReaderScalingTests`: same sizes, same bound, thread CPU clock).
@Suite struct NetshScriptScalingTests {
    @Test func readingAScriptGrowsLinearlyWithTheInput() async throws {
        // CPU-heavy: off the cooperative pool, so that the other suites' tasks keep running.
        let (smallTime, largeTime) = try await offThePool {
            let files = PolicyFile.builtIn.adding(NetshScriptCodec())
            func script(_ filters: Int) throws -> [UInt8] {
                try files.encode(SyntheticStore.blockList(filters: filters), format: .netsh, file: "x.netsh")
            }
            let small = try script(500)
            let large = try script(4_000)
            return (
                try BenchmarkSupport.bestThreadCPUSeconds {
                    _ = try files.decode(small, file: "x.netsh", format: .netsh)
                },
                try BenchmarkSupport.bestThreadCPUSeconds {
                    _ = try files.decode(large, file: "x.netsh", format: .netsh)
                }
            )
        }
        let ratio = largeTime / max(smallTime, 1e-6)
        #expect(ratio < 24, "4000 filters took \(largeTime) s, 500 took \(smallTime) s: \(ratio) ×")
    }
}
