import Foundation
import IPsecTestKit
import PolicyModel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What the split into two processes guarantees about privileges and descriptors (issues 14 and 17
/// item 3): only the driver holds netfilter netlink sockets (queues, log group); the agent and its
/// plugin hosts hold none; every descriptor of the agent and the driver beyond 0–2 is close-on-exec;
/// the agent works without `CAP_NET_ADMIN`. Root only.
@Suite(
    .serialized,
    .requires(
        .all([
            DriverTestEnvironment.requirement, .command("cc", package: "gcc"),
            .command("setpriv", package: "util-linux"),
        ])
    )
)
struct DriverIsolationTests {
    @Test(.timeLimit(.minutes(5))) func onlyTheDriverHoldsQueueSocketsAndEveryDescriptorIsCloseOnExec() async throws {
        try await DriverNetwork.withNetwork { net in
            // A plugin (the fixture's good mode, about an address nobody uses) so that a plugin host runs.
            let plugins = try await FailClosedStartTests.slowPlugin(
                in: net.directory,
                blocking: "198.18.254.254",
                delayMs: 0
            )
            let config = try net.writeServiceConfiguration(
                extra: "plugin_dir = \(plugins.library)\nplugin_conf_dir = \(plugins.configuration)\n"
            )
            // Started with nothing open beyond 0–2, as systemd starts it (`exec-clean`), through
            // posix_spawn: Foundation's `Process` hands its children a socket of its own.
            let service = try ServiceProcess(
                [
                    "ip", "netns", "exec", net.host, DriverTestEnvironment.harnessPath, "exec-clean",
                    ServiceUnderTest.executable, "run", "--config", config,
                ],
                output: "\(net.directory)/agent.log"
            )
            defer { service.terminate() }
            let agent = service.pid
            var driver: pid_t?
            for _ in 0..<600 where driver == nil {
                let status = await sh("\(ServiceUnderTest.executable) status --json --config \(config)").output
                let json = (try? JSONSerialization.jsonObject(with: Data(status.utf8))) as? [String: Any] ?? [:]
                let sources = json["sources"] as? [[String: Any]] ?? []
                if json["state"] as? String == "RUNNING",
                    sources.contains(where: {
                        $0["name"] as? String == "plugin:slow" && $0["state"] as? String == "in-effect"
                    })
                {
                    driver = ((json["driverProcess"] as? [String: Any])?["pid"] as? NSNumber).map {
                        pid_t($0.int32Value)
                    }
                }
                if driver == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            let driverPID = try #require(driver, "the service did not run: \(service.output)")
            let hosts = Self.children(of: agent).filter {
                ServiceSandbox.commandLine(of: $0).contains("plugin-host")
            }
            #expect(!hosts.isEmpty, "no plugin host runs: \(service.output)")
            let protocols = await Self.netlinkProtocols(net)
            func netfilterSockets(_ pid: pid_t) -> Int {
                Self.socketInodes(of: pid).filter { protocols[$0] == 12 }.count  // NETLINK_NETFILTER
            }
            #expect(netfilterSockets(driverPID) >= 1, "the driver holds no queue socket")
            #expect(netfilterSockets(agent) == 0, "the agent holds netfilter sockets")
            for host in hosts { #expect(netfilterSockets(host) == 0, "plugin host \(host) holds netfilter sockets") }
            for (name, pid) in [("agent", agent), ("driver", driverPID)] {
                let open = Self.descriptorsWithoutCloseOnExec(pid)
                #expect(open.isEmpty, "the \(name) (\(pid)) has descriptors without close-on-exec: \(open)")
            }
            service.signal(SIGTERM)
            #expect(await service.exited(timeout: 30) == 0, "\(service.output)")
        }
    }

    /// The driver started as its unit would (all capabilities), the agent without `CAP_NET_ADMIN` and
    /// `CAP_NET_RAW` (as its unit runs it): the policy is enforced all the same.
    @Test(.timeLimit(.minutes(5))) func theAgentNeedsNoNetAdmin() async throws {
        try await DriverNetwork.withNetwork { net in
            try net.listen(22)
            try net.listen(23)
            let config = try net.writeServiceConfiguration()
            try await net.importBlockTelnet(config: config)
            let driver = try net.spawn(
                net.host,
                [ServiceUnderTest.executable, "driver", "--exit-with-service", "--config", config],
                output: "\(net.directory)/driver.log"
            )
            for _ in 0..<400 where !FileManager.default.fileExists(atPath: "\(net.directory)/driver.sock") {
                try await Task.sleep(for: .milliseconds(25))
            }
            let agent = try net.spawn(
                net.host,
                [
                    "setpriv", "--bounding-set=-net_admin,-net_raw", "--inh-caps=-net_admin,-net_raw",
                    ServiceUnderTest.executable, "run", "--config", config,
                ],
                output: "\(net.directory)/agent.log"
            )
            var running = false
            for _ in 0..<600 where !running {
                running = await sh("\(ServiceUnderTest.executable) status --config \(config)").output.contains(
                    "RUNNING"
                )
                if !running { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(
                running,
                "log: \((try? String(contentsOfFile: "\(net.directory)/agent.log", encoding: .utf8)) ?? "")"
            )
            let capabilities = Self.effectiveCapabilities(agent.processIdentifier)
            #expect(capabilities & (1 << 12) == 0, "the agent has CAP_NET_ADMIN: \(String(capabilities, radix: 16))")
            #expect(await net.connects(from: net.peer, to: net.hostAddress, port: 22))
            #expect(await net.blocked(from: net.peer, to: net.hostAddress, port: 23))
            agent.signalIfRunning(SIGTERM)
            for _ in 0..<400 where driver.isRunning { try await Task.sleep(for: .milliseconds(25)) }
            #expect(!driver.isRunning, "the driver did not follow the agent's stop")
        }
    }

    /// The PIDs whose parent is `pid`.
    static func children(of pid: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { candidate in
            let stat = (try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8)) ?? ""
            // "PID (comm) STATE PPID ...": the fields after the last ')'.
            guard let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == pid
        }
    }

    /// Inode → netlink protocol of every netlink socket in the host namespace (`/proc/net/netlink`).
    static func netlinkProtocols(_ net: DriverNetwork) async -> [UInt64: Int] {
        let text = await sh("ip netns exec \(net.host) cat /proc/net/netlink").output
        var result: [UInt64: Int] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            if fields.count >= 10, let proto = Int(fields[1]), let inode = UInt64(fields[9]) { result[inode] = proto }
        }
        return result
    }

    /// The socket inodes among `pid`'s descriptors.
    static func socketInodes(of pid: pid_t) -> [UInt64] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        return fds.compactMap { fd in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                target.hasPrefix("socket:[")
            else { return nil }
            return UInt64(target.dropFirst(8).dropLast())
        }
    }

    /// Descriptors above 2 whose flags lack `O_CLOEXEC` (`/proc/PID/fdinfo`), with what they are.
    static func descriptorsWithoutCloseOnExec(_ pid: pid_t) -> [String] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fdinfo")) ?? []
        return fds.compactMap { Int($0) }.filter { $0 > 2 }.sorted().compactMap { fd in
            let info = (try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8)) ?? ""
            guard let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags:") }),
                let flags = Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8)
            else { return nil }
            guard flags & 0o2000000 == 0 else { return nil }
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")) ?? "?"
            return "\(fd) → \(target)"
        }
    }

    /// `CapEff` of `pid`.
    static func effectiveCapabilities(_ pid: pid_t) -> UInt64 {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("CapEff:") } ?? ""
        return UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) ?? UInt64.max
    }
}
