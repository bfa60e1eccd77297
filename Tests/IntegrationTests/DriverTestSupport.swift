import Foundation
import IPsecSystem
import IPsecTestKit
import PolicyModel
import Synchronization
import Testing

/// Helpers for the driver's root integration tests: throw-away network namespaces joined by a
/// veth pair (198.18.0.0/15 only), the driver harness running inside one of them, and traffic
/// generated with `nc` and the harness's own ICMP echo.
enum DriverTestEnvironment {
    /// Whether ``requirement`` is met. Skip with `.requires(DriverTestEnvironment.requirement)`, whose
    /// comment names what is missing and how to get it.
    static var available: Bool { requirement.isMet }

    /// Root, the tools the tests need, and the harness.
    static var requirement: MachineRequirement {
        .all([
            .root, .command("ip", package: "iproute2"), .command("iptables-restore", package: "iptables"),
            .command("nc", package: "netcat-openbsd"),
            .check(
                FileManager.default.isExecutableFile(atPath: harnessPath),
                "ipsecsvc-driver-harness beside the tests (swift build --build-tests)"
            ),
        ])
    }

    /// The harness is built next to the test bundle.
    static var harnessPath: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle, bundle.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("ipsecsvc-driver-harness").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return bundle.appendingPathComponent("ipsecsvc-driver-harness").path
    }
}

/// Result of a command.
struct Outcome {
    var status: Int32
    var output: String
}

/// Runs a command with bash to completion on its own thread (never blocking the test's executor), with
/// standard error folded into the output. The shell starts with an empty signal mask whatever this test
/// process blocks, so `timeout`, `kill` and job control inside it behave as in a terminal.
@discardableResult
func sh(_ command: String) async -> Outcome {
    let shell = Command(
        "/bin/bash",
        ["-c", command],
        standardOutput: .capture,
        standardError: .sameAsOutput,
        // Its own process group, as Foundation's Process gave it: a script's `kill 0` or
        // `trap 'kill 0' EXIT` must not reach the test process.
        grouping: .newGroup
    )
    do {
        return try await DedicatedThread.run(name: "test-sh") {
            do {
                let result = try ChildProcess.runBlocking(shell, timeout: .seconds(3600), outputLimit: 64 << 20)
                return Outcome(status: result.status.shellStatus, output: result.outputText)
            } catch {
                return Outcome(status: -1, output: "\(error)")
            }
        }
    } catch {
        return Outcome(status: -1, output: "\(error)")
    }
}

/// Two namespaces: `host` runs the driver (198.18.N.2), `peer` is the other end (198.18.N.1).
final class DriverNetwork: Sendable {
    let host: String
    let peer: String
    let hostAddress: String
    let peerAddress: String
    /// The host side of the veth pair (a LAN interface).
    let hostLink: String
    let directory: String
    private let processes = Mutex<[Process]>([])
    private static let counter = Atomic<Int>(0)

    init() async throws {
        let index = DriverNetwork.counter.add(1, ordering: .relaxed).newValue
        let pid = getpid()
        let subnet = 100 + (Int(pid) + index * 7) % 150
        host = "ipsdrv-h-\(pid)-\(index)"
        peer = "ipsdrv-p-\(pid)-\(index)"
        hostAddress = "198.18.\(subnet).2"
        peerAddress = "198.18.\(subnet).1"
        directory = NSTemporaryDirectory() + "ipsdrv-\(pid)-\(index)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        await DriverNetwork.removeStale()
        let vh = "ipdh\(pid % 100000)x\(index)"
        hostLink = vh
        let vp = "ipdp\(pid % 100000)x\(index)"
        // Retried: `ip netns add` can lose a race with other test runs creating and deleting
        // namespaces at the same moment (the /run/netns mount).
        var failure = ""
        for attempt in 0..<4 {
            let setup = await sh(
                """
                set -e
                ip netns add \(host); ip netns add \(peer)
                ip link add \(vh) type veth peer name \(vp)
                ip link set \(vh) netns \(host); ip link set \(vp) netns \(peer)
                ip -n \(host) addr add \(hostAddress)/24 dev \(vh); ip -n \(peer) addr add \(peerAddress)/24 dev \(vp)
                ip -n \(host) link set lo up; ip -n \(peer) link set lo up
                ip -n \(host) link set \(vh) up; ip -n \(peer) link set \(vp) up
                """
            )
            if setup.status == 0 { return }
            failure = setup.output
            await sh(
                "ip netns del \(host) 2>/dev/null; ip netns del \(peer) 2>/dev/null; ip link del \(vh) 2>/dev/null"
            )
            try await Task.sleep(for: .milliseconds(200 * (attempt + 1)))
        }
        await teardown()
        throw TestFailure("namespace setup failed: \(failure)")
    }

    /// Deletes namespaces left by an earlier test process that died before its teardown.
    static func removeStale() async {
        await sh(
            """
            for ns in $(ip netns list | awk '/^ipsdrv-[hp]-/ {print $1}'); do
                owner=${ns#ipsdrv-?-}; owner=${owner%%-*}
                if [ "$owner" != "\(getpid())" ] && ! kill -0 "$owner" 2>/dev/null; then
                    for p in $(ip netns pids $ns 2>/dev/null); do kill -9 $p 2>/dev/null; done
                    ip netns del $ns 2>/dev/null
                fi
            done
            """
        )
    }

    /// Kills what the test started (by PID) and deletes both namespaces.
    func teardown() async {
        // Only those still running: the PID of one already reaped may belong to another process now.
        for process in processes.withLock({ $0 }) where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        // Children of what the test started (shell pipelines) live only in the test's namespaces.
        await sh(
            """
            for ns in \(host) \(peer); do
                for p in $(ip netns pids $ns 2>/dev/null); do kill -9 $p 2>/dev/null; done
                ip netns del $ns 2>/dev/null
            done
            rm -rf \(directory)
            """
        )
    }

    /// Starts a command in a namespace in the background (`ip netns exec` execs it). Returns the
    /// `Process`, not a bare PID: Foundation reaps the child by itself, after which its PID may belong
    /// to another process, so signal it only through ``Foundation/Process/signalIfRunning(_:)``.
    func spawn(_ namespace: String, _ arguments: [String], output: String) throws -> Process {
        let process = Process()
        let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        process.executableURL = URL(fileURLWithPath: ip ?? "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace] + arguments
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let handle = FileHandle(forWritingAtPath: output)!
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        processes.withLock { $0.append(process) }
        return process
    }

    /// A TCP listener on `port` in the host namespace (accepts connections repeatedly).
    func listen(_ port: Int) throws {
        _ = try spawn(host, ["nc", "-lk", "\(port)"], output: "\(directory)/nc-\(port).log")
    }

    /// Whether a TCP connection from `from` to `address:port` completes (retried: passing checks must
    /// survive a loaded machine).
    func connects(from: String, to address: String, port: Int, attempts: Int = 3) async -> Bool {
        for _ in 0..<attempts {
            if await sh("ip netns exec \(from) nc -z -w 2 \(address) \(port)").status == 0 { return true }
        }
        return false
    }

    /// Whether a TCP connection fails (one attempt with a timeout: a dropped SYN never completes).
    func blocked(from: String, to address: String, port: Int) async -> Bool {
        await sh("ip netns exec \(from) nc -z -w 1 \(address) \(port)").status != 0
    }

    /// ICMP echo from a namespace; true when a reply came back.
    func pings(from: String, to address: String, count: Int = 3, timeoutMs: Int = 1000) async -> Bool {
        await sh("ip netns exec \(from) \(DriverTestEnvironment.harnessPath) ping \(address) \(count) \(timeoutMs)")
            .status
            == 0
    }
}

/// A running driver harness.
struct RunningDriver {
    let network: DriverNetwork
    let process: Process
    let log: String
    let policyPath: String
    let statusPath: String

    /// Starts the harness in the host namespace and waits until it reports ready.
    static func start(
        _ network: DriverNetwork,
        policy: EffectivePolicy,
        extra: [String] = [],
        name: String = "driver"
    ) async throws -> RunningDriver {
        let policyPath = "\(network.directory)/\(name)-policy.json"
        try writePolicy(policy, to: policyPath)
        let statusPath = "\(network.directory)/\(name)-status.json"
        let log = "\(network.directory)/\(name).log"
        let process = try network.spawn(
            network.host,
            [
                DriverTestEnvironment.harnessPath, "--policy", policyPath, "--status-file", statusPath, "--queue-base",
                "4300",
            ]
                + extra,
            output: log
        )
        let driver = RunningDriver(
            network: network,
            process: process,
            log: log,
            policyPath: policyPath,
            statusPath: statusPath
        )
        try await driver.waitFor("harness: ready", seconds: 40)
        return driver
    }

    static func writePolicy(_ policy: EffectivePolicy, to path: String) throws {
        let data = try JSONEncoder().encode(policy)
        try data.write(to: URL(fileURLWithPath: path + ".tmp"))
        rename(path + ".tmp", path)
    }

    func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// Waits until the log contains `text`.
    func waitFor(_ text: String, seconds: Double) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if logText().contains(text) { return }
            if !process.isRunning && !logText().contains(text) {
                throw TestFailure("harness exited: \(logText())")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("timed out waiting for '\(text)': \(logText())")
    }

    /// Applies a new policy (SIGHUP) and returns how long until the driver reported it applied.
    func change(to policy: EffectivePolicy, generation: Int) async throws -> Duration {
        try RunningDriver.writePolicy(policy, to: policyPath)
        let clock = ContinuousClock()
        let start = clock.now
        process.signalIfRunning(SIGHUP)
        try await waitFor("applied generation \(generation)", seconds: 30)
        return clock.now - start
    }

    /// The driver's counters (SIGUSR1 writes the status file).
    func counters() async throws -> [String: UInt64] {
        try? FileManager.default.removeItem(atPath: statusPath)
        process.signalIfRunning(SIGUSR1)
        // Generous: other test runs and builds may share the machine.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let data = FileManager.default.contents(atPath: statusPath),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let counters = object["counters"] as? [String: Any]
            {
                return counters.compactMapValues { ($0 as? NSNumber)?.uint64Value }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("no status file")
    }

    /// Graceful stop (SIGTERM): the harness removes the hooks and exits.
    func stop() async throws {
        process.signalIfRunning(SIGTERM)
        try await waitFor("harness: stopped", seconds: 30)
        for _ in 0..<100 where process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
    }
}

extension Process {
    /// Sends `signal` while the child is still running (not yet reaped by Foundation): a reaped
    /// child's PID may belong to another process by now (PIDs wrap at 32768 here under load).
    func signalIfRunning(_ signal: Int32) {
        if isRunning { kill(processIdentifier, signal) }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Policy builders for the integration tests.
enum TestPolicy {
    static func guid(_ n: Int) -> IPsecGUID {
        let hex = String(n, radix: 16)
        return IPsecGUID("{00000000-0000-4000-8000-\(String(repeating: "0", count: 12 - hex.count) + hex)}")!
    }

    static func action(_ kind: FilterActionKind, inpass: Bool = false, soft: Bool = false) -> FilterAction {
        FilterAction(
            id: guid(0xA000 + ActionPrecedence.rank(kind) * 4 + (inpass ? 1 : 0) + (soft ? 2 : 0)),
            name: kind.rawValue,
            action: kind,
            inboundPassThrough: inpass,
            allowFallbackToClear: soft
        )
    }

    static func rule(
        _ n: Int,
        _ source: FilterAddress,
        _ destination: FilterAddress,
        _ action: FilterAction,
        proto: UInt8 = 0,
        sport: UInt16 = 0,
        dport: UInt16 = 0,
        mirrored: Bool = true
    ) -> EffectiveFilter {
        EffectiveFilter(
            filter: Filter(
                id: guid(n),
                mirrored: mirrored,
                source: source,
                destination: destination,
                ipProtocol: proto,
                sourcePort: sport,
                destinationPort: dport
            ),
            inboundAction: action,
            provenance: Provenance(kind: .local, source: "local", policyName: "Integration", ruleName: "rule \(n)")
        )
    }

    static func policy(_ filters: [EffectiveFilter], generation: UInt64 = 1) -> EffectivePolicy {
        EffectivePolicy(generation: generation, filters: filters)
    }
}

extension DriverNetwork {
    var peerIP: IPv4Address { IPv4Address(peerAddress)! }
    var hostIP: IPv4Address { IPv4Address(hostAddress)! }

    /// An `ipsecsvc.conf` for the service in this network (netfilter driver, state and socket in the
    /// test's directory), with `extra` lines; returns its path.
    func writeServiceConfiguration(extra: String = "") throws -> String {
        let path = "\(directory)/ipsecsvc.conf"
        let config = """
            state_dir = \(directory)/state
            socket = \(directory)/control.sock
            systemd = no
            driver = netfilter
            stop_timeout = 10
            \(extra.contains("ike =") ? "" : "ike = none")
            \(extra)
            """
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Starts `ipsecsvc run` (`executable`) in the host namespace; returns it once the queue rules are in
    /// place and the queue is bound.
    func startService(_ executable: String, config: String, name: String) async throws -> Process {
        let service = try spawn(host, [executable, "run", "--config", config], output: "\(directory)/\(name).log")
        // Two minutes are a hang guard, not a bound: each check runs two `sh` children, which wait for
        // the shared BlockingPool behind other suites' children at load 30 (a 30 s wait failed there).
        let host = host
        var inPlace = false
        _ = await eventually(timeout: .seconds(120), interval: .milliseconds(50)) {
            let rules = await sh("ip netns exec \(host) iptables-save -t mangle")
            let bound = await sh("ip netns exec \(host) cat /proc/net/netfilter/nfnetlink_queue")
            inPlace =
                rules.output.contains("NFQUEUE") && (bound.output.contains(" 4200 ") || bound.output.hasPrefix(" 4200"))
            return inPlace || !service.isRunning
        }
        if inPlace { return service }
        let log = (try? String(contentsOfFile: "\(directory)/\(name).log", encoding: .utf8)) ?? ""
        throw TestFailure("the service did not reach secure mode: \(log)")
    }

    /// A second veth pair between the two namespaces: `hostSide` (in the host namespace, with
    /// `hostAddress`/24) and `peerSide` (in the peer namespace, with `peerAddress`/24). Deleted with the
    /// namespaces.
    func addLink(hostSide: String, peerSide: String, hostAddress: String, peerAddress: String) async throws {
        let setup = await sh(
            """
            set -e
            ip link add \(hostSide) type veth peer name \(peerSide)
            ip link set \(hostSide) netns \(host); ip link set \(peerSide) netns \(peer)
            ip -n \(host) addr add \(hostAddress)/24 dev \(hostSide); ip -n \(peer) addr add \(peerAddress)/24 dev \(peerSide)
            ip -n \(host) link set \(hostSide) up; ip -n \(peer) link set \(peerSide) up
            """
        )
        if setup.status != 0 {
            await sh("ip link del \(hostSide) 2>/dev/null")
            throw TestFailure("second link setup failed: \(setup.output)")
        }
    }
}
