import Foundation
import IPsecTestKit
import PolicyModel
import Testing

/// The real service (`ipsecsvc run` with `driver = netfilter`) inside a test namespace: secure mode
/// hooks, `ipsecsvc status` with the driver's counters, graceful stop (permit) and SIGKILL of the agent
/// (the driver process goes on; DriverProcessTests kill the driver itself). Root only.
@Suite(.serialized, .requires(DriverTestEnvironment.requirement))
struct DriverServiceIntegrationTests {
    /// The built `ipsecsvc`, beside the test bundle.
    static var executable: String {
        let bundle = URL(fileURLWithPath: DriverTestEnvironment.harnessPath).deletingLastPathComponent()
        return bundle.appendingPathComponent("ipsecsvc").path
    }

    func configure(_ net: DriverNetwork) throws -> String {
        try net.writeServiceConfiguration()
    }

    /// Starts `ipsecsvc run` in the host namespace; returns its PID once the queue rules are in place.
    func startService(_ net: DriverNetwork, config: String, name: String) async throws -> Process {
        try await net.startService(Self.executable, config: config, name: name)
    }

    @Test func serviceRunsTheNetfilterDriver() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            Issue.record("ipsecsvc not built at \(Self.executable)")
            return
        }
        let net = try await DriverNetwork()
        do {
            try await run(net)
        } catch {
            await net.teardown()
            throw error
        }
        await net.teardown()
    }

    func run(_ net: DriverNetwork) async throws {
        try net.listen(22)
        let config = try configure(net)
        var service = try await startService(net, config: config, name: "service")
        // No policy: secure mode filters nothing, through the queue.
        #expect(await net.connects(from: net.peer, to: net.hostAddress, port: 22))
        #expect(await net.pings(from: net.peer, to: net.hostAddress))
        let status = await sh("\(Self.executable) status --config \(config)")
        #expect(status.output.contains("Driver mode:  secure"), "\(status.output)")
        #expect(status.output.contains("table generation"))
        #expect(status.output.contains("queues.bound"), "\(status.output)")
        #expect(status.output.contains("decision.no-match.packets"), "\(status.output)")
        // SIGKILL of the agent: the driver process goes on enforcing its table (here: nothing to block).
        service.signalIfRunning(SIGKILL)
        #expect(await eventually(timeout: .seconds(20)) { !service.isRunning }, "the agent did not die")
        #expect(await net.connects(from: net.peer, to: net.hostAddress, port: 22))
        // Started again, the agent takes the driver over. (The rules and the queue are the driver's and
        // were there all along: wait for the new agent itself, so that the stop below is its graceful
        // stop and not a SIGTERM before it has its signal handlers.)
        service = try await startService(net, config: config, name: "service2")
        var running = false
        for _ in 0..<300 where !running {
            running = await sh("\(Self.executable) status --config \(config)").output.contains("RUNNING")
            if !running { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(running, "the restarted agent did not reach RUNNING")
        #expect(await net.connects(from: net.peer, to: net.hostAddress, port: 22))
        // Graceful stop: permit mode, the hooks are gone.
        service.signalIfRunning(SIGTERM)
        for _ in 0..<300 where service.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        let rules = await sh("ip netns exec \(net.host) iptables-save")
        #expect(!rules.output.contains("IPSECSVC"), "\(rules.output)")
        #expect(await net.connects(from: net.peer, to: net.hostAddress, port: 22))
    }

    /// `ipsecsvc boot` with `bootmode=block` in the dynamic settings: the kernel keeps enforcing the
    /// startup mode after the process exits; DHCP and the boot exemptions pass.
    @Test func bootBlockThroughTheService() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            Issue.record("ipsecsvc not built at \(Self.executable)")
            return
        }
        let net = try await DriverNetwork()
        do {
            try net.listen(22)
            try net.listen(23)
            let config = try configure(net)
            try FileManager.default.createDirectory(
                atPath: "\(net.directory)/state",
                withIntermediateDirectories: true
            )
            try "bootmode=block\nbootexemptions=tcp:0:22:inbound\n".write(
                toFile: "\(net.directory)/state/dynamic-settings.conf",
                atomically: true,
                encoding: .utf8
            )
            let boot = await sh("ip netns exec \(net.host) \(Self.executable) boot --config \(config)")
            #expect(boot.status == 0, "\(boot.output)")
            #expect(await net.connects(from: net.peer, to: net.hostAddress, port: 22))
            #expect(await net.blocked(from: net.peer, to: net.hostAddress, port: 23))
            let rules = await sh("ip netns exec \(net.host) iptables-save -t mangle")
            #expect(rules.output.contains("--sport 67 --dport 68 -j ACCEPT"), "\(rules.output)")
            #expect(rules.output.contains("-A IPSECSVC-IN -j DROP"))
        } catch {
            await net.teardown()
            throw error
        }
        await net.teardown()
    }

    /// A shipped Windows-style policy imported through the CLI while the service runs: the local
    /// store applies at once and the netfilter driver enforces it (inbound Telnet blocked, SSH passes).
    @Test func policyImportedThroughTheCLIIsEnforced() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            Issue.record("ipsecsvc not built at \(Self.executable)")
            return
        }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let policyFile = repository.appendingPathComponent("policies-xml/block-telnet-smb.xml").path
        guard FileManager.default.fileExists(atPath: policyFile) else {
            Issue.record("missing \(policyFile)")
            return
        }
        let net = try await DriverNetwork()
        do {
            try net.listen(22)
            try net.listen(23)
            let config = try configure(net)
            let service = try await startService(net, config: config, name: "service")
            #expect(await net.connects(from: net.peer, to: net.hostAddress, port: 23))
            let imported = await sh(
                "\(Self.executable) policy import \(policyFile) --assign 'Block Telnet and SMB' --config \(config)"
            )
            #expect(imported.status == 0, "\(imported.output)")
            // Applied at once: poll briefly for the new table.
            var blocked = false
            for _ in 0..<20 where !blocked {
                blocked = await net.blocked(from: net.peer, to: net.hostAddress, port: 23)
            }
            #expect(blocked)
            #expect(await net.connects(from: net.peer, to: net.hostAddress, port: 22))
            let status = await sh("\(Self.executable) status --config \(config)")
            #expect(status.output.contains("drops.blocked"), "\(status.output)")
            #expect(status.output.contains("source.local.drops"), "\(status.output)")
            service.signalIfRunning(SIGTERM)
            for _ in 0..<300 where service.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        } catch {
            await net.teardown()
            throw error
        }
        await net.teardown()
    }
}
