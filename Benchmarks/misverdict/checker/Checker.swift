// ipsecsvc-misverdict: does the real driver ever let a packet through that neither the policy before a
// change nor the one after it allows? (Benchmarks/README.md; run.sh sets up the namespaces.)
//
//   ipsecsvc-misverdict driver  --filters N --flows F --port P --peer A --swaps-per-second S --seconds D --log DIR
//       hosts NetfilterDriver (its own chains and queue), applies a diverse N-filter policy plus one
//       test filter per flow (peer:20000+f → me:P UDP, the heaviest weight), then replaces the policy
//       S times a second for D seconds; policy k blocks flow f when blocked(f, k). Writes DIR/swaps
//       (k, start ns, end ns of each apply call) and DIR/rss (KiB per second).
//   ipsecsvc-misverdict receive --port P --seconds D --log DIR        records every datagram (DIR/received)
//   ipsecsvc-misverdict send    --to A --port P --flows F --rate R --seconds D --log DIR   (DIR/sent)
//   ipsecsvc-misverdict analyze --flows F --log DIR                   prints the JSON verdict
import DecisionCore
import Driver
import Foundation
import IPsecTestKit
import PolicyModel

// MARK: - Shared

func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// Whether policy `k` blocks flow `f`. Flows 0…7 are blocked by every policy (a leak there is a
/// mis-verdict whatever the timing); the others are blocked by a quarter of the policies, a
/// different quarter for each flow.
func blocked(_ flow: Int, _ policy: Int) -> Bool {
    if flow < 8 { return true }
    var random = SplitMix(seed: UInt64(flow) << 32 | UInt64(policy))
    return random.next() % 4 == 0
}

/// One line to standard output, unbuffered (run.sh waits for "ready" and "receiving").
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

func fail(_ message: String) -> Never { BenchmarkSupport.fail("ipsecsvc-misverdict", message) }

let usage = "ipsecsvc-misverdict driver|receive|send|analyze --option value ...; see Benchmarks/misverdict/run.sh"

func usageError(_ message: String) -> Never {
    BenchmarkSupport.usageError("ipsecsvc-misverdict", message, usage: usage)
}

/// One mode's `--name value` options. An option the mode does not take, a flag without its value, a
/// number that is not a number or out of its range, a bad address: a usage error naming it (exit 2),
/// never a silent default.
struct Options {
    let mode: String
    var values: [String: String] = [:]

    init(mode: String, _ arguments: ArraySlice<String>, allowed: Set<String>) {
        self.mode = mode
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            guard flag.hasPrefix("--"), allowed.contains(String(flag.dropFirst(2))) else {
                let names = allowed.sorted().joined(separator: ", --")
                usageError("unknown argument \(flag) for \(mode) (it takes --\(names))")
            }
            guard let value = iterator.next() else { usageError("\(flag) needs a value") }
            values[String(flag.dropFirst(2))] = value
        }
    }

    /// `--name`'s whole number in `range`, or `fallback` when it is not given.
    func int(_ name: String, _ fallback: Int, in range: ClosedRange<Int> = 1...Int.max) -> Int {
        guard let text = values[name] else { return fallback }
        return BenchmarkSupport.number(
            text,
            argument: "--\(name)",
            in: range,
            tool: "ipsecsvc-misverdict",
            usage: usage
        )
    }

    /// `--name`'s port or queue number (1–65535 for a port, 0–65535 for a queue).
    func uint16(_ name: String, _ fallback: UInt16, from lowest: Int = 1) -> UInt16 {
        UInt16(int(name, Int(fallback), in: lowest...Int(UInt16.max)))
    }

    func string(_ name: String) -> String {
        guard let value = values[name] else { usageError("missing --\(name)") }
        return value
    }

    /// `--name`'s IPv4 address in dotted form.
    func ipv4(_ name: String) -> IPv4Address {
        let text = string(name)
        guard let value = IPv4Address(text) else { usageError("--\(name) \"\(text)\": expected an IPv4 address") }
        return value
    }
}

func writeRecords<T>(_ records: [T], to path: String) {
    let data = records.withUnsafeBytes { Data($0) }
    guard FileManager.default.createFile(atPath: path, contents: data) else { fail("cannot write \(path)") }
}

func readRecords<T>(_ path: String, as type: T.Type) -> [T] {
    guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
    let count = data.count / MemoryLayout<T>.stride
    return data.withUnsafeBytes { raw in Array(raw.bindMemory(to: T.self).prefix(count)) }
}

/// One datagram: flow, sequence number, send time; the receiver adds its receive time.
struct Record {
    var flow: UInt32
    var sequence: UInt32
    var sent: UInt64
    var received: UInt64
}

struct Swap {
    var policy: UInt64
    var start: UInt64
    var end: UInt64
}

/// `--name`'s IPv4 address as the socket calls take it.
func socketAddress(_ options: Options, _ name: String) -> in_addr {
    var value = in_addr()
    let text = options.ipv4(name).description
    guard inet_pton(AF_INET, text, &value) == 1 else { usageError("--\(name) \"\(text)\": expected an IPv4 address") }
    return value
}

// MARK: - Driver side

func residentKiB() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
    return 0
}

func runDriver(_ options: Options) async {
    let flows = options.int("flows", 256)
    let port = options.uint16("port", 9000)
    let peer = options.ipv4("peer")
    let perSecond = options.int("swaps-per-second", 10)
    let seconds = options.int("seconds", 30)
    let directory = options.string("log")
    let queue = options.uint16("queue", 4300, from: 0)
    let base = DiversePolicy.make(count: options.int("filters", 10_000), seed: 3).filters
    let permit = FilterAction(id: SyntheticStore.guid(9, 1), name: "Permit", action: .permit)
    let block = FilterAction(id: SyntheticStore.guid(9, 2), name: "Block", action: .block)
    let tests = (0..<flows).map { flow in
        EffectiveFilter(
            filter: Filter(
                id: SyntheticStore.guid(8, flow),
                mirrored: false,
                source: .host(peer),
                destination: .me,
                ipProtocol: IPProtocol.udp,
                sourcePort: UInt16(20_000 + flow),
                destinationPort: port
            ),
            inboundAction: permit,
            provenance: Provenance(kind: .dynamic, source: "checker", policyName: "Checker", ruleName: "flow \(flow)")
        )
    }
    var template = EffectivePolicy(generation: 0, filters: base + tests)
    func policy(_ k: Int) -> EffectivePolicy {
        for flow in 0..<flows {
            template.filters[base.count + flow].inboundAction = blocked(flow, k) ? block : permit
            template.filters[base.count + flow].outboundAction = template.filters[base.count + flow].inboundAction
        }
        template.generation = UInt64(k + 1)
        return template
    }
    let driver = NetfilterDriver(
        configuration: NetfilterDriverConfiguration(
            hooks: HookConfiguration(chainPrefix: options.values["chain-prefix"] ?? "IPSECSVC", queueBase: queue),
            hostCheckInterval: .seconds(1)
        )
    )
    // The driver's periodic checks and summaries while this runs, as in the driver process's group.
    async let _ = driver.monitor()
    var swaps: [Swap] = []
    var rss: [Int] = []
    var compiles: [Double] = []
    var incrementalCompiles: [Double] = []
    do {
        try await driver.configure(DriverSettings())
        let first = policy(0)
        let start = monotonicNanoseconds()
        try await driver.apply(first)
        swaps.append(Swap(policy: 0, start: start, end: monotonicNanoseconds()))
        try await driver.enterOperationalMode(.secure)
        say("checker: ready")
        // Wait for the traffic to start (run.sh writes DIR/go).
        while !FileManager.default.fileExists(atPath: directory + "/go") {
            try await Task.sleep(for: .milliseconds(20))
        }
        let interval = 1_000_000_000 / UInt64(perSecond)
        var next = monotonicNanoseconds() + interval
        let end = monotonicNanoseconds() + UInt64(seconds) * 1_000_000_000
        var lastSample = monotonicNanoseconds()
        rss.append(residentKiB())
        var k = 1
        while next < end {
            let prepared = policy(k)  // built before the control call: not part of change-to-enforced
            let now = monotonicNanoseconds()
            if next > now { try await Task.sleep(for: .nanoseconds(Int(next - now))) }
            let callStart = monotonicNanoseconds()
            try await driver.apply(prepared)
            swaps.append(Swap(policy: UInt64(k), start: callStart, end: monotonicNanoseconds()))
            if k % 5 == 0 {
                // The compiler's share of the call, measured apart (same policy, this host's addresses):
                // in full, and patched from a previous table as the driver compiles it.
                let host = LinuxHostInfoSource().current()
                let compileStart = monotonicNanoseconds()
                let full = FilterCompiler.compile(prepared, host: host)
                compiles.append(Double(monotonicNanoseconds() - compileStart) / 1e6)
                let next = policy(k + 1)
                let incrementalStart = monotonicNanoseconds()
                _ = FilterCompiler.compile(next, host: host, previous: full)
                incrementalCompiles.append(Double(monotonicNanoseconds() - incrementalStart) / 1e6)
            }
            k += 1
            next = max(next + interval, monotonicNanoseconds())
            if monotonicNanoseconds() - lastSample >= 1_000_000_000 {
                rss.append(residentKiB())
                lastSample = monotonicNanoseconds()
            }
        }
        rss.append(residentKiB())
        // Let the last packets in flight arrive under the last policy.
        try await Task.sleep(for: .seconds(1))
        try await driver.shutdown()
    } catch {
        try? await driver.shutdown()
        fail("driver: \(error)")
    }
    writeRecords(swaps, to: directory + "/swaps")
    writeRecords(compiles, to: directory + "/compiles")
    writeRecords(incrementalCompiles, to: directory + "/incremental-compiles")
    try? rss.map(String.init).joined(separator: "\n").write(
        toFile: directory + "/rss",
        atomically: true,
        encoding: .utf8
    )
    say("checker: \(swaps.count - 1) policy changes")
}

// MARK: - Traffic

func runReceive(_ options: Options) {
    let port = options.uint16("port", 9000)
    let seconds = options.int("seconds", 30)
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var size: Int32 = 16 << 20
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
    var local = sockaddr_in()
    local.sin_family = sa_family_t(AF_INET)
    local.sin_port = port.bigEndian
    let bound = withUnsafePointer(to: &local) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { fail("bind: \(errno)") }
    var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    say("checker: receiving")
    var records: [Record] = []
    records.reserveCapacity(2_000_000)
    var buffer = [UInt8](repeating: 0, count: 64)
    var lastPacket = monotonicNanoseconds()
    let deadline = monotonicNanoseconds() + UInt64(seconds + 30) * 1_000_000_000
    while monotonicNanoseconds() < deadline {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 64, 0) }
        let now = monotonicNanoseconds()
        if count < 16 {
            // Stop 3 s after the last datagram once traffic has been seen.
            if !records.isEmpty && now - lastPacket > 3_000_000_000 { break }
            continue
        }
        lastPacket = now
        buffer.withUnsafeBytes { raw in
            records.append(
                Record(
                    flow: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self),
                    sequence: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self),
                    sent: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                    received: now
                )
            )
        }
    }
    writeRecords(records, to: options.string("log") + "/received")
    say("checker: received \(records.count)")
}

func runSend(_ options: Options) {
    let flows = options.int("flows", 256)
    let port = options.uint16("port", 9000)
    let rate = options.int("rate", 30_000)
    let seconds = options.int("seconds", 30)
    let target = socketAddress(options, "to")
    var sockets: [Int32] = []
    for flow in 0..<flows {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_port = UInt16(20_000 + flow).bigEndian
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = port.bigEndian
        remote.sin_addr = target
        let ok =
            withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            } == 0
            && withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            } == 0
        guard ok else { fail("socket for flow \(flow): \(errno)") }
        sockets.append(fd)
    }
    var records: [Record] = []
    records.reserveCapacity(rate * seconds + 1000)
    var sequence = [UInt32](repeating: 0, count: flows)
    var buffer = [UInt8](repeating: 0, count: 32)
    let start = monotonicNanoseconds()
    let end = start + UInt64(seconds) * 1_000_000_000
    var sent = 0
    var flow = 0
    while true {
        let now = monotonicNanoseconds()
        if now >= end { break }
        // Packets due by now at `rate` per second, round robin over the flows.
        let due = Int(Double(now - start) / 1e9 * Double(rate))
        while sent < due {
            let record = Record(flow: UInt32(flow), sequence: sequence[flow], sent: monotonicNanoseconds(), received: 0)
            buffer.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: record.flow, toByteOffset: 0, as: UInt32.self)
                raw.storeBytes(of: record.sequence, toByteOffset: 4, as: UInt32.self)
                raw.storeBytes(of: record.sent, toByteOffset: 8, as: UInt64.self)
            }
            // A refused send (ECONNREFUSED from an earlier ICMP error) is retried once.
            var result = buffer.withUnsafeBytes { send(sockets[flow], $0.baseAddress, 32, 0) }
            if result < 0 { result = buffer.withUnsafeBytes { send(sockets[flow], $0.baseAddress, 32, 0) } }
            if result == 32 {
                records.append(record)
                sequence[flow] += 1
            }
            sent += 1
            flow = (flow + 1) % flows
        }
        usleep(200)
    }
    writeRecords(records, to: options.string("log") + "/sent")
    say("checker: sent \(records.count) in \(seconds) s")
}

// MARK: - Verdict

func analyze(_ options: Options) {
    let directory = options.string("log")
    let swaps = readRecords(directory + "/swaps", as: Swap.self)
    let sent = readRecords(directory + "/sent", as: Record.self)
    let received = readRecords(directory + "/received", as: Record.self)
    let rss = ((try? String(contentsOfFile: directory + "/rss", encoding: .utf8)) ?? "").split(separator: "\n")
        .compactMap {
            Int($0)
        }
    var receivedKeys = Set<UInt64>()
    for record in received { receivedKeys.insert(UInt64(record.flow) << 32 | UInt64(record.sequence)) }
    // Policy k may decide from the start of its apply call to the end of the next one.
    func window(_ index: Int) -> (from: UInt64, to: UInt64) {
        (swaps[index].start, index + 1 < swaps.count ? swaps[index + 1].end : UInt64.max)
    }
    /// The policies that may have decided a packet in flight between `from` and `to`.
    func deciding(_ from: UInt64, _ to: UInt64) -> [Int] {
        // Swaps are in time order: find the first whose window ends after `from`.
        var low = 0
        var high = swaps.count
        while low < high {
            let middle = (low + high) / 2
            if window(middle).to < from { low = middle + 1 } else { high = middle }
        }
        var result: [Int] = []
        var index = low
        while index < swaps.count && window(index).from <= to {
            result.append(index)
            index += 1
        }
        return result
    }
    var oldAllows = 0
    var onlyNewAllows = 0
    var neither = 0
    var neitherExamples: [String] = []
    for record in received {
        let candidates = deciding(record.sent, record.received)
        let allowing = candidates.filter { !blocked(Int(record.flow), Int(swaps[$0].policy)) }
        if allowing.isEmpty {
            neither += 1
            if neitherExamples.count < 5 {
                neitherExamples.append(
                    "flow \(record.flow) seq \(record.sequence) policies \(candidates.map { swaps[$0].policy })"
                )
            }
        } else if allowing.first == candidates.first {
            oldAllows += 1
        } else {
            onlyNewAllows += 1
        }
    }
    var lostAllowed = 0
    var droppedBlocked = 0
    for record in sent where !receivedKeys.contains(UInt64(record.flow) << 32 | UInt64(record.sequence)) {
        let candidates = deciding(record.sent, record.sent + 1_000_000_000)
        if candidates.allSatisfy({ !blocked(Int(record.flow), Int(swaps[$0].policy)) }) {
            lostAllowed += 1
        } else {
            droppedBlocked += 1
        }
    }
    let compiles = readRecords(directory + "/compiles", as: Double.self).sorted()
    let incrementalCompiles = readRecords(directory + "/incremental-compiles", as: Double.self).sorted()
    let durations = swaps.dropFirst().map { Double($0.end - $0.start) / 1e6 }.sorted()
    func percentile(_ p: Double) -> Double {
        durations.isEmpty ? 0 : durations[min(durations.count - 1, Int(Double(durations.count) * p))]
    }
    let seconds = sent.isEmpty ? 0 : Double(sent.last!.sent - sent.first!.sent) / 1e9
    let firstRSS = rss.first ?? 0
    let growth = firstRSS == 0 ? 0 : Double(rss.max() ?? 0) / Double(firstRSS) - 1
    // The first sample holds one table; from the first change on, two are alive around each swap. A
    // leak shows as the last third's peak above the first third's; a plateau does not.
    let third = max(1, rss.count / 3)
    let firstThird = rss.prefix(third).max() ?? 0
    let steadyGrowth = firstThird == 0 ? 0 : Double(rss.suffix(third).max() ?? 0) / Double(firstThird) - 1
    let summary: [String: Any] = [
        "sent": sent.count,
        "sent_pps": seconds > 0 ? Int(Double(sent.count) / seconds) : 0,
        "received": received.count,
        "allowed_by_old_policy": oldAllows,
        "allowed_only_by_new_policy": onlyNewAllows,
        "allowed_by_neither": neither,
        "neither_examples": neitherExamples,
        "not_received_blocked": droppedBlocked,
        "not_received_though_allowed": lostAllowed,
        "policy_changes": max(0, swaps.count - 1),
        "change_to_enforced_ms": [
            "p50": percentile(0.5), "p90": percentile(0.9), "p99": percentile(0.99), "max": durations.last ?? 0,
        ],
        "compile_ms_p50": compiles.isEmpty ? 0 : compiles[compiles.count / 2],
        "incremental_compile_ms_p50":
            incrementalCompiles.isEmpty ? 0 : incrementalCompiles[incrementalCompiles.count / 2],
        "rss_kib_first": firstRSS,
        "rss_kib_max": rss.max() ?? 0,
        "rss_kib_last": rss.last ?? 0,
        "rss_growth": (growth * 1000).rounded() / 1000,
        "rss_growth_last_third_vs_first_third": (steadyGrowth * 1000).rounded() / 1000,
    ]
    let data = try! JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .prettyPrinted])
    print(String(decoding: data, as: UTF8.self))
}

// MARK: - Main

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { usageError("no mode given") }
/// The options each mode takes (run.sh passes `--flows` to `analyze` too).
let allowed: [String: Set<String>] = [
    "driver": ["filters", "flows", "port", "peer", "swaps-per-second", "seconds", "log", "queue", "chain-prefix"],
    "receive": ["port", "seconds", "log"],
    "send": ["to", "port", "flows", "rate", "seconds", "log"],
    "analyze": ["flows", "log"],
]
let mode = arguments[1]
guard let names = allowed[mode] else { usageError("unknown mode \(mode)") }
let options = Options(mode: mode, arguments.dropFirst(2), allowed: names)
switch mode {
case "driver": await runDriver(options)
case "receive": runReceive(options)
case "send": runSend(options)
default: analyze(options)
}
