// ipsecsvc-link-bench: the table hand-over from the agent to the driver process at 1,000 / 10,000 /
// 100,000 filters (issue 14: ≤ 50 ms for 100,000).
// Run: swift run -c release ipsecsvc-link-bench [--rules] [REPS [FILTERS...]] (default 10 and 1000 10000 100000)
//
// The hand-over is what the link adds to a policy change: the agent encodes the effective policy
// (PolicyWire), the bytes cross a Unix stream socket, the driver decodes them and saves them durably
// in its runtime directory before enforcing (compiling the table is the driver's work with or without
// a second process, and is measured by ipsecsvc-driver-bench). The save goes to a tmpfs directory, as
// the driver's does (`/run/ipsecsvc`; here `/dev/shm`, or the temporary directory where there is none).
// Minimum over the repetitions; encode and decode as CPU time of their thread and as wall time,
// transfer and save as wall time; the hand-over total is the wall times' sum.
//
// The policy's filters share their context as the merger builds them (one context box per filter
// list: `PolicyMerger`); a last row encodes the 100,000 filters each with a box of its own, as
// `SyntheticPolicy` makes them (the encoder's slower path: contexts compared by value).
import Foundation
import IPsecSystem
import IPsecTestKit
import PolicyModel
import ServiceHost

func now() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// CPU time of this thread: on a shared, loaded machine the wall clock mostly measures waiting for a CPU.
func cpuNow() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

func milliseconds(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1_000_000 }

/// Sends `bytes` from another thread through a stream socket pair and reads them all here.
func transfer(_ bytes: [UInt8]) -> UInt64 {
    var pair: [Int32] = [0, 0]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else { fatalError("socketpair") }
    let (reader, writer) = (pair[0], pair[1])
    let started = now()
    let thread = Thread {
        var sent = 0
        bytes.withUnsafeBytes { raw in
            while sent < raw.count {
                let count = send(writer, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                guard count > 0 else { break }
                sent += count
            }
        }
    }
    thread.start()
    var buffer = [UInt8](repeating: 0, count: bytes.count)
    var received = 0
    buffer.withUnsafeMutableBytes { raw in
        while received < raw.count {
            let count = recv(reader, raw.baseAddress! + received, raw.count - received, 0)
            guard count > 0 else { break }
            received += count
        }
    }
    let elapsed = now() - started
    close(reader)
    close(writer)
    precondition(received == bytes.count && buffer == bytes, "the transfer lost bytes")
    return elapsed
}

let usage = "ipsecsvc-link-bench [--rules] [REPS [FILTERS...]]"
/// `--rules`: every filter a rule of its own (the netsh set-up of the restart benchmark).
let rulesOnly = CommandLine.arguments.contains("--rules")
let arguments = CommandLine.arguments.dropFirst().filter { $0 != "--rules" }
if let flag = arguments.first(where: { $0.hasPrefix("-") && Int($0) == nil }) {
    BenchmarkSupport.usageError("ipsecsvc-link-bench", "unknown argument \(flag)", usage: usage)
}
// Read before any work: a count that is not a whole number of at least 1 is a usage error naming it.
let repetitions =
    arguments.first.map {
        BenchmarkSupport.number($0, argument: "REPS", tool: "ipsecsvc-link-bench", usage: usage)
    } ?? 10
let sizes = arguments.dropFirst().map {
    BenchmarkSupport.number($0, argument: "FILTERS", tool: "ipsecsvc-link-bench", usage: usage)
}
let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : FileManager.default.temporaryDirectory.path
let directory = base + "/ipsecsvc-link-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }

/// `policy` as the merger builds one: the filters of equal context share one context box.
func sharingContexts(_ policy: EffectivePolicy) -> EffectivePolicy {
    var policy = policy
    var templates: [EffectiveFilter: EffectiveFilter] = [:]
    let placeholder = Filter(id: .zero, source: .any, destination: .any)
    for index in policy.filters.indices {
        let filter = policy.filters[index].filter
        let context = policy.filters[index].with(filter: placeholder)
        if let known = templates[context] {
            policy.filters[index] = known.with(filter: filter)
        } else {
            templates[context] = policy.filters[index]
        }
    }
    return policy
}

print(rulesOnly ? "every filter a rule of its own (--rules)" : "the filters of a list sharing their context")
print("filters     bytes  encode ms (CPU/wall)  transfer ms  decode ms (CPU/wall)  save ms  hand-over ms (wall)")
for size in sizes.isEmpty ? [1_000, 10_000, 100_000] : sizes {
    let synthetic = SyntheticPolicy.make(count: size, seed: 7)
    let policy = rulesOnly ? SyntheticPolicy.ruleByRule(synthetic) : sharingContexts(synthetic)
    var best = (encode: UInt64.max, transfer: UInt64.max, decode: UInt64.max, save: UInt64.max)
    var wall = (encode: UInt64.max, decode: UInt64.max)
    var bytes: [UInt8] = []
    for _ in 0..<repetitions {
        var started = (cpu: cpuNow(), wall: now())
        bytes = try PolicyWire.encode(policy)
        best.encode = min(best.encode, cpuNow() - started.cpu)
        wall.encode = min(wall.encode, now() - started.wall)
        best.transfer = min(best.transfer, transfer(bytes))
        started = (cpuNow(), now())
        let decoded = try PolicyWire.decode(bytes)
        best.decode = min(best.decode, cpuNow() - started.cpu)
        wall.decode = min(wall.decode, now() - started.wall)
        precondition(decoded.filters.count == policy.filters.count)
        let saved = now()
        try DurableFile.write(bytes, to: directory + "/driver-table", permissions: 0o600)
        best.save = min(best.save, now() - saved)
    }
    let total = wall.encode + best.transfer + wall.decode + best.save
    print(
        String(
            format: "%7d %9d %9.2f / %7.2f %12.2f %9.2f / %7.2f %8.2f %19.2f",
            size,
            bytes.count,
            milliseconds(best.encode),
            milliseconds(wall.encode),
            milliseconds(best.transfer),
            milliseconds(best.decode),
            milliseconds(wall.decode),
            milliseconds(best.save),
            milliseconds(total)
        )
    )
}

if sizes.isEmpty && !rulesOnly {
    let unshared = SyntheticPolicy.make(count: 100_000, seed: 7)
    var unsharedEncode = (cpu: UInt64.max, wall: UInt64.max)
    for _ in 0..<repetitions {
        let started = (cpu: cpuNow(), wall: now())
        _ = try PolicyWire.encode(unshared)
        unsharedEncode = (
            min(unsharedEncode.cpu, cpuNow() - started.cpu), min(unsharedEncode.wall, now() - started.wall)
        )
    }
    print(
        String(
            format: "100000 filters, a context box each: encode %.2f / %.2f ms (CPU/wall)",
            milliseconds(unsharedEncode.cpu),
            milliseconds(unsharedEncode.wall)
        )
    )
}
