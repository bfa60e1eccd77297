// reader-bench: how the policy file readers scale (Benchmarks/readers/run.sh drives it).
//
//   reader-bench generate DIR FILTERS     one policy whose rule uses one filter list of FILTERS filters,
//                                         written as DIR/policy.xml, .reg, .ldif, .dsml and .netsh
//   reader-bench read FILE [REPEAT]       read FILE (format by extension) REPEAT times; print the best
//                                         wall and CPU seconds
import IPsecTestKit
import Netsh
import PolicyFormats
import PolicyModel

/// The formats the benchmark writes and reads: PolicyFormats' own and netsh scripts.
let policyFiles = PolicyFile.builtIn.adding(NetshScriptCodec())

func fail(_ message: String) -> Never { BenchmarkSupport.fail("reader-bench", message) }

let arguments = CommandLine.arguments
guard arguments.count >= 3 else { fail("usage: reader-bench generate DIR FILTERS | read FILE [REPEAT]") }
switch arguments[1] {
case "generate":
    guard arguments.count == 4, let filters = Int(arguments[3]) else {
        fail("usage: reader-bench generate DIR FILTERS")
    }
    let store = SyntheticStore.blockList(filters: filters)
    let options = PolicyFileOptions(baseDN: "DC=example,DC=com")
    for format in ["xml", "reg", "ldif", "dsml", "netsh"] {
        let path = arguments[2] + "/policy." + format
        do {
            try policyFiles.write(store, to: path, options: options)
        } catch {
            fail("\(error)")
        }
    }
case "read":
    let repeats = arguments.count > 3 ? Int(arguments[3]) ?? 3 : 3
    var best = (wall: Double.infinity, cpu: Double.infinity)
    var filters = 0
    for _ in 0..<repeats {
        let cpu = BenchmarkSupport.processCPUSeconds()
        let start = ContinuousClock.now
        do {
            let store = try policyFiles.read(path: arguments[2])
            filters = store.filterLists.reduce(0) { $0 + $1.filters.count }
        } catch {
            fail("\(error)")
        }
        let elapsed = ContinuousClock.now - start
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        best = (min(best.wall, wall), min(best.cpu, BenchmarkSupport.processCPUSeconds() - cpu))
    }
    print("\(filters) \(best.wall) \(best.cpu)")
default:
    fail("unknown command \(arguments[1])")
}
