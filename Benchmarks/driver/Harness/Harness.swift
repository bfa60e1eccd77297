import DecisionCore
// ipsecsvc-driver-harness: runs the real NetfilterDriver outside the service, for the root
// integration tests and for nfq-bench. See Benchmarks/driver/README.md.
import Dispatch
import Driver
import Foundation
import IPsecTestKit
import PolicyModel

struct HarnessOptions {
    var policyPath: String?
    var mode = "secure"
    var bootExemptions: [BootExemption] = []
    var exemptionLevel = 3
    var diagnostics = 0
    var logInterval = 3600
    var queueBase: UInt16 = 4200
    var queueCount = NetfilterDriverConfiguration.defaultQueueCount
    var installsHooks = true
    var fastPath = true
    var flowMark: UInt32?
    var syntheticFilters = 0
    var protectedPeers: [IPv4Address] = []
    var statusFile: String?
    var chainPrefix = "IPSECSVC"
    var flowMask = DriverMarks.default.flowMask
}

func usage() -> Never {
    FileHandle.standardError.write(
        Data(
            """
            usage: ipsecsvc-driver-harness [--policy FILE.json] [--mode secure|permit|block|boot-permit|boot-stateful|boot-block]
                   [--boot-exemptions 'tcp:0:22:inbound ...'] [--exempt 0-3] [--diagnostics 0-7] [--log-interval S]
                   [--queue N (one queue, hooks left to the caller)] [--queue-base N] [--queues N] [--hooks] [--no-hooks]
                   [--no-fast-path] [--flow-mark 0x1] [--filters N] [--fake-protected A,B] [--status-file F]
                   [--chain-prefix P] [--flow-mask 0x0fff0000 (the fast-path epoch field; small: early wraps)]
                   ipsecsvc-driver-harness ping ADDRESS [COUNT] [TIMEOUT_MS]
                   ipsecsvc-driver-harness probe --permitted A:P --blocked A:P [--stream A:P] [--interval-ms 10]
                   ipsecsvc-driver-harness echo PORT
                   ipsecsvc-driver-harness stream A:P
                   ipsecsvc-driver-harness exec-clean PROGRAM ARGS...
                   ipsecsvc-driver-harness outlived-lock NAME
            Signals: HUP re-reads the policy file, USR1 writes the status file, TERM/INT stop gracefully
            (hooks removed: permit). Boot modes install their rules and exit.

            """.utf8
        )
    )
    exit(2)
}

/// One line to standard output, unbuffered (tests wait for "ready").
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func parseNumber(_ text: String) -> UInt64? {
    text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
}

func parseOptions() -> HarnessOptions {
    var options = HarnessOptions()
    var arguments = Array(CommandLine.arguments.dropFirst())
    var explicitHooks: Bool?
    func value() -> String {
        guard !arguments.isEmpty else { usage() }
        return arguments.removeFirst()
    }
    while !arguments.isEmpty {
        let flag = arguments.removeFirst()
        switch flag {
        case "--policy": options.policyPath = value()
        case "--mode": options.mode = value()
        case "--boot-exemptions":
            options.bootExemptions = value().split(separator: " ").compactMap { parseBootExemption(String($0)) }
        case "--exempt": options.exemptionLevel = Int(value()) ?? 3
        case "--diagnostics": options.diagnostics = Int(value()) ?? 0
        case "--log-interval": options.logInterval = Int(value()) ?? 3600
        case "--queue":
            options.queueBase = UInt16(value()) ?? 0
            options.queueCount = 1
            options.installsHooks = false
        case "--queue-base": options.queueBase = UInt16(value()) ?? 4200
        case "--queues": options.queueCount = Int(value()) ?? 1
        case "--hooks": explicitHooks = true
        case "--no-hooks": explicitHooks = false
        case "--no-fast-path": options.fastPath = false
        case "--flow-mark": options.flowMark = parseNumber(value()).map { UInt32(truncatingIfNeeded: $0) }
        case "--filters": options.syntheticFilters = Int(value()) ?? 0
        case "--fake-protected":
            options.protectedPeers = value().split(separator: ",").compactMap { IPv4Address($0) }
        case "--status-file": options.statusFile = value()
        case "--chain-prefix": options.chainPrefix = value()
        case "--flow-mask": options.flowMask = parseNumber(value()).map { UInt32(truncatingIfNeeded: $0) } ?? 0
        default: usage()
        }
    }
    if let explicitHooks { options.installsHooks = explicitHooks }
    return options
}

func parseBootExemption(_ text: String) -> BootExemption? {
    guard let exemption = BootExemption(parsing: text) else {
        FileHandle.standardError.write(Data("harness: bad boot exemption \(text)\n".utf8))
        exit(2)
    }
    return exemption
}

func loadPolicy(_ options: HarnessOptions, generation: UInt64) throws -> EffectivePolicy {
    if let path = options.policyPath {
        var policy = try JSONDecoder().decode(EffectivePolicy.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        policy.generation = max(policy.generation, generation)
        return policy
    }
    if options.syntheticFilters > 0 {
        return SyntheticPolicy.make(count: options.syntheticFilters, generation: generation)
    }
    return EffectivePolicy(generation: generation)
}

func writeStatus(_ driver: NetfilterDriver, _ path: String?) async {
    guard let path else { return }
    let status = await driver.status()
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    guard let data = try? encoder.encode(status) else { return }
    let temporary = path + ".tmp"
    _ = FileManager.default.createFile(atPath: temporary, contents: data)
    _ = rename(temporary, path)
}

/// Signals as an async stream (handlers run on a dispatch queue, never in signal context).
func signals(_ numbers: [Int32]) -> (AsyncStream<Int32>, [any DispatchSourceSignal]) {
    let (stream, continuation) = AsyncStream<Int32>.makeStream()
    var sources: [any DispatchSourceSignal] = []
    for number in numbers {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { continuation.yield(number) }
        source.resume()
        sources.append(source)
    }
    return (stream, sources)
}

@main
struct Harness {
    static func main() async {
        if CommandLine.arguments.count > 1 {
            let rest = Array(CommandLine.arguments.dropFirst(2))
            switch CommandLine.arguments[1] {
            case "ping": exit(runPing(rest))
            case "probe": exit(runProbe(rest))
            case "echo": exit(runEcho(rest))
            case "stream": exit(runStream(rest))
            case "exec-clean": exit(runExecClean(rest))
            case "outlived-lock": exit(runOutlivedLock(rest))
            case "hold-copy": exit(runHoldCopy())
            default: break
            }
        }
        let options = parseOptions()
        var reader = QueueReaderSettings()
        reader.fixedFlowMark = options.flowMark
        let securityAssociations: any SecurityAssociations =
            options.protectedPeers.isEmpty
            ? KernelSecurityAssociations() : FakeSecurityAssociations(protectedPeers: options.protectedPeers)
        let configuration = NetfilterDriverConfiguration(
            hooks: HookConfiguration(
                chainPrefix: options.chainPrefix,
                queueBase: options.queueBase,
                queueCount: options.queueCount,
                marks: DriverMarks(protected: DriverMarks.default.protected, flowMask: options.flowMask)
            ),
            reader: reader,
            securityAssociations: securityAssociations,
            hostCheckInterval: .seconds(1),
            installsHooks: options.installsHooks,
            fastPath: options.fastPath || options.flowMark != nil
        )
        let driver = NetfilterDriver(configuration: configuration)
        // The driver's periodic checks and summaries while this runs, as in the driver process's group.
        async let _ = driver.monitor()
        let (stream, sources) = signals([SIGHUP, SIGUSR1, SIGTERM, SIGINT])
        defer { _ = sources }
        var generation: UInt64 = 1
        do {
            switch options.mode {
            case "boot-permit", "boot-stateful", "boot-block":
                let mode = StartupMode(rawValue: String(options.mode.dropFirst(5)))!
                try await driver.enterStartupMode(mode, exemptions: options.bootExemptions)
                say("harness: startup mode \(mode.rawValue) installed")
                return
            default:
                break
            }
            guard let mode = OperationalMode(rawValue: options.mode) else { usage() }
            try await driver.configure(
                DriverSettings(
                    exemptionLevel: options.exemptionLevel,
                    diagnosticsLevel: options.diagnostics,
                    logIntervalSeconds: options.logInterval
                )
            )
            try await driver.apply(loadPolicy(options, generation: generation))
            try await driver.enterOperationalMode(mode)
        } catch {
            FileHandle.standardError.write(Data("harness: \(error)\n".utf8))
            try? await driver.shutdown()
            exit(1)
        }
        await writeStatus(driver, options.statusFile)
        say("harness: ready mode=\(options.mode) queues=\(options.queueBase)+\(options.queueCount)")
        for await number in stream {
            switch number {
            case SIGHUP:
                generation += 1
                do {
                    try await driver.apply(loadPolicy(options, generation: generation))
                    say("harness: applied generation \(generation)")
                } catch {
                    FileHandle.standardError.write(Data("harness: reload failed: \(error)\n".utf8))
                }
                await writeStatus(driver, options.statusFile)
            case SIGUSR1:
                await writeStatus(driver, options.statusFile)
            default:
                await writeStatus(driver, options.statusFile)
                do {
                    try await driver.shutdown()
                } catch {
                    FileHandle.standardError.write(Data("harness: shutdown: \(error)\n".utf8))
                    exit(1)
                }
                say("harness: stopped")
                return
            }
        }
    }
}
