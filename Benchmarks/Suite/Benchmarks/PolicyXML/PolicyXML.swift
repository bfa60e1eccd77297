// The native XML policy format on the XML benchmark's store (SyntheticStore.rules): 1,000 rules with
// 10,000 filters, read + schema validation + model (NativePolicyXML.read) and write. The comparison
// with `xmllint --noout --schema` on 10,000 rules is Benchmarks/xml/run.sh (two processes).
import Benchmark
import IPsecTestKit
import PolicyFormats
import PolicyModel
import SuiteSupport

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = SuiteConfiguration.make(seconds: 3, iterations: 200)
    Benchmark("read+validate-1000-rules-10000-filters") { benchmark, bytes in
        for _ in benchmark.scaledIterations {
            blackHole(try? NativePolicyXML.read(bytes, file: "store.xml", limits: .init(maxBytes: 1 << 30)))
        }
    } setup: {
        NativePolicyXML.write(SyntheticStore.rules(1_000, filters: 10_000))
    }
    Benchmark("write-1000-rules-10000-filters") { benchmark, store in
        for _ in benchmark.scaledIterations { blackHole(NativePolicyXML.write(store)) }
    } setup: {
        SyntheticStore.rules(1_000, filters: 10_000)
    }
}
