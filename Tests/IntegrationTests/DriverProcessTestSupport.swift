import Foundation
import PolicyModel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real service with the driver in a process of its own (`ipsecsvc run` → `ipsecsvc driver`) in a
/// ``DriverNetwork``: start, status, the agent's and the driver's PIDs, and kills by PID only while the
/// process is still the test's (its command line names the test's directory).
final class ServiceUnderTest {
    let net: DriverNetwork
    let config: String
    private(set) var agent: Process
    private var starts = 0

    static var executable: String {
        URL(fileURLWithPath: DriverTestEnvironment.harnessPath).deletingLastPathComponent()
            .appendingPathComponent("ipsecsvc").path
    }

    /// Starts `ipsecsvc run` (which starts the driver) and waits until it is RUNNING.
    init(_ net: DriverNetwork, config: String) async throws {
        self.net = net
        self.config = config
        agent = try net.spawn(net.host, Self.runCommand(config), output: "\(net.directory)/agent-0.log")
        try await waitRunning()
    }

    /// `ipsecsvc run --config C`.
    static func runCommand(_ config: String) -> [String] {
        [executable, "run", "--config", config]
    }

    /// `ipsecsvc ARGS --config C` in the host namespace.
    func command(_ arguments: [String]) async -> Outcome {
        await sh(
            "ip netns exec \(net.host) \(Self.executable) \(arguments.map { "'\($0)'" }.joined(separator: " ")) --config \(config)"
        )
    }

    /// `status --json`.
    func status() async -> [String: Any] {
        let outcome = await command(["status", "--json"])
        return (try? JSONSerialization.jsonObject(with: Data(outcome.output.utf8))) as? [String: Any] ?? [:]
    }

    /// The driver process's PID as `status` reports it.
    func driverPID() async -> pid_t? {
        ((await status()["driverProcess"] as? [String: Any])?["pid"] as? NSNumber).map { pid_t($0.int32Value) }
    }

    /// Waits until the agent answers RUNNING (and its driver process is known).
    func waitRunning(seconds: Double = 60) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let report = await status()
            if report["state"] as? String == "RUNNING", report["driverProcess"] != nil { return }
            guard agent.isRunning else { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestFailure("the service did not reach RUNNING: \(log(of: agent))")
    }

    /// SIGKILL of the agent, then a new agent (which takes the driver over).
    func killAndRestartAgent() async throws {
        agent.signalIfRunning(SIGKILL)
        for _ in 0..<400 where agent.isRunning { try await Task.sleep(for: .milliseconds(5)) }
        starts += 1
        agent = try net.spawn(net.host, Self.runCommand(config), output: "\(net.directory)/agent-\(starts).log")
        try await waitRunning()
    }

    /// SIGKILL of `pid` while it is a process of this test (its command line names the test's directory).
    func kill(_ pid: pid_t, signal: Int32 = SIGKILL) {
        let arguments = ServiceSandbox.commandLine(of: pid).joined(separator: " ")
        guard arguments.contains(net.directory) else { return }
        Glibc.kill(pid, signal)
    }

    /// Graceful stop: SIGTERM to the agent; waits for it to exit.
    func stop() async throws {
        agent.signalIfRunning(SIGTERM)
        for _ in 0..<600 where agent.isRunning { try await Task.sleep(for: .milliseconds(50)) }
    }

    func log(of process: Process) -> String {
        let logs = (try? FileManager.default.contentsOfDirectory(atPath: net.directory)) ?? []
        return logs.filter { $0.hasSuffix(".log") }.sorted().map { name in
            "== \(name)\n" + ((try? String(contentsOfFile: "\(net.directory)/\(name)", encoding: .utf8)) ?? "")
        }.joined(separator: "\n") + "\n== driver log\n"
            + ((try? String(contentsOfFile: "\(net.directory)/state/ipsecsvc-driver.log", encoding: .utf8)) ?? "")
    }

    /// Every log of the test's processes, for failure messages.
    var logs: String { log(of: agent) }
}

/// The harness's prober in the peer namespace: a permitted and a blocked port every 10 ms, and a stream.
final class TrafficProbe {
    struct Result {
        var permitted = 0
        var permittedFailed = 0
        var blocked = 0
        var leaked = 0
        var stream = 0
        var streamLost = 0
        var line = ""
    }

    private let process: Process
    private let output: String

    init(_ net: DriverNetwork, permitted: Int, blocked: Int, stream: Int?, name: String = "probe") throws {
        output = "\(net.directory)/\(name).out"
        var arguments = [
            DriverTestEnvironment.harnessPath, "probe", "--permitted", "\(net.hostAddress):\(permitted)", "--blocked",
            "\(net.hostAddress):\(blocked)",
        ]
        if let stream { arguments += ["--stream", "\(net.hostAddress):\(stream)"] }
        process = try net.spawn(net.peer, arguments, output: output)
    }

    /// Ends the probe and reads its counts.
    func stop() async throws -> Result {
        process.signalIfRunning(SIGTERM)
        for _ in 0..<200 where process.isRunning { try await Task.sleep(for: .milliseconds(25)) }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("probe:") }).map(String.init) else {
            throw TestFailure("the probe printed no result: \(text)")
        }
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        guard numbers.count >= 6 else { throw TestFailure("unreadable probe result: \(line)") }
        return Result(
            permitted: numbers[0],
            permittedFailed: numbers[1],
            blocked: numbers[2],
            leaked: numbers[3],
            stream: numbers[4],
            streamLost: numbers[5],
            line: line
        )
    }
}

extension DriverNetwork {
    /// A TCP echo server on `port` in the host namespace (the harness's).
    func echo(_ port: Int) throws {
        _ = try spawn(
            host,
            [DriverTestEnvironment.harnessPath, "echo", "\(port)"],
            output: "\(directory)/echo-\(port).out"
        )
    }

    /// Imports the repository's "Block Telnet and SMB" policy into the local store (inbound TCP 23
    /// blocked) through the CLI: offline when the service is stopped, through it when it runs.
    func importBlockTelnet(config: String) async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let file = repository.appendingPathComponent("policies-xml/block-telnet-smb.xml").path
        let imported = await sh(
            "ip netns exec \(host) \(ServiceUnderTest.executable) policy import \(file) --assign 'Block Telnet and SMB' --config \(config)"
        )
        guard imported.status == 0 else { throw TestFailure("import failed: \(imported.output)") }
    }

    /// Whether NFQUEUE `queue` is bound in the host namespace now.
    func queueBound(_ queue: Int = 4200) async -> Bool {
        let text = await sh("ip netns exec \(host) cat /proc/net/netfilter/nfnetlink_queue").output
        return text.split(separator: "\n").contains { $0.split(separator: " ").first == Substring("\(queue)") }
    }
}
