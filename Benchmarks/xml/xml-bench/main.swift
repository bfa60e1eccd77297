// xml-bench: measures the native policy XML reader and writer (Benchmarks/xml/run.sh drives it), and
// rewrites policy files in the writer's canonical form.
//
//   xml-bench generate FILE [RULES FILTERS]   write a synthetic store (default 10 000 rules, 100 000 filters)
//   xml-bench read FILE [REPEAT]              time read+validate; print best wall/CPU seconds and peak RSS
//   xml-bench write FILE [REPEAT]             time writing the store read from FILE
//   xml-bench canonicalize FILE...            rewrite each file as NativePolicyXML.write(read(file))
import Glibc
import IPsecTestKit
import PolicyFormats
import PolicyModel

func readFile(_ path: String) -> [UInt8] {
    guard let file = fopen(path, "rb") else { fail("cannot open \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { return bytes }
        bytes += chunk[..<count]
    }
}

func writeFile(_ path: String, _ bytes: [UInt8]) {
    guard let file = fopen(path, "wb") else { fail("cannot create \(path)") }
    defer { fclose(file) }
    guard fwrite(bytes, 1, bytes.count, file) == bytes.count else { fail("cannot write \(path)") }
}

func fail(_ message: String) -> Never { BenchmarkSupport.fail("xml-bench", message) }

func cpuSeconds() -> Double { BenchmarkSupport.processCPUSeconds() }

func peakRSSKilobytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss
}

/// Runs `body` `repeats` times; the best wall and CPU times.
func measure(_ repeats: Int, _ body: () -> Void) -> (wall: Double, cpu: Double) {
    var best = (wall: Double.infinity, cpu: Double.infinity)
    for _ in 0..<repeats {
        let cpu = cpuSeconds()
        let start = ContinuousClock.now
        body()
        let elapsed = ContinuousClock.now - start
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        best = (min(best.wall, wall), min(best.cpu, cpuSeconds() - cpu))
    }
    return best
}

func format(_ seconds: Double) -> String {
    let milliseconds = Int((seconds * 1000).rounded())
    return
        "\(milliseconds / 1000).\(String(repeating: "0", count: 3 - String(milliseconds % 1000).count))\(milliseconds % 1000)"
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    fail("usage: xml-bench generate|read|write|canonicalize FILE ...")
}
switch arguments[1] {
case "generate":
    let rules = arguments.count > 3 ? Int(arguments[3]) ?? 10_000 : 10_000
    let filters = arguments.count > 4 ? Int(arguments[4]) ?? 100_000 : 100_000
    let bytes = NativePolicyXML.write(SyntheticStore.rules(rules, filters: filters))
    writeFile(arguments[2], bytes)
    print("generated \(arguments[2]): \(bytes.count) bytes, \(rules) rules, \(filters) filters")
case "read":
    let repeats = arguments.count > 3 ? Int(arguments[3]) ?? 3 : 3
    var store = PolicyStore()
    let time = measure(repeats) {
        do {
            store = try NativePolicyXML.read(contentsOf: arguments[2], limits: .init(maxBytes: 1 << 30))
        } catch {
            fail("\(error)")
        }
    }
    let filterCount = store.filterLists.reduce(0) { $0 + $1.filters.count }
    let ruleCount = store.policies.reduce(0) { $0 + $1.rules.count }
    print("read+validate wall \(format(time.wall)) s cpu \(format(time.cpu)) s peak-rss \(peakRSSKilobytes()) KiB")
    print("  \(ruleCount) rules, \(filterCount) filters")
case "write":
    let repeats = arguments.count > 3 ? Int(arguments[3]) ?? 3 : 3
    let input = readFile(arguments[2])
    let store: PolicyStore
    do { store = try NativePolicyXML.read(input, file: arguments[2], limits: .init(maxBytes: 1 << 30)) } catch {
        fail("\(error)")
    }
    var output: [UInt8] = []
    let time = measure(repeats) { output = NativePolicyXML.write(store) }
    print("write wall \(format(time.wall)) s cpu \(format(time.cpu)) s, \(output.count) bytes")
    if output != input { print("  note: output differs from the input (input not in canonical form)") }
case "canonicalize":
    for path in arguments.dropFirst(2) {
        do {
            let store = try NativePolicyXML.read(readFile(path), file: path)
            writeFile(path, NativePolicyXML.write(store))
            print("rewrote \(path)")
        } catch {
            fail("\(error)")
        }
    }
default:
    fail("unknown command \(arguments[1])")
}
