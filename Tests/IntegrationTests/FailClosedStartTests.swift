import Foundation
import IPsecTestKit
import PolicyModel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 17 item 1: every start is fail-closed until the whole effective policy is in force. Computer
/// startup (`boot`, stateful) then `run`; restarts of the agent; restarts of both processes; a refresh:
/// a port the local policy blocks (23) and a port only a late plugin blocks are probed every 10 ms and
/// never answer. Before, the driver enforced the persistent policy alone in secure mode for 40–100 ms
/// at every start, and the plugins only after READY. Root only.
@Suite(.serialized, .requires(.all([DriverTestEnvironment.requirement, .command("cc", package: "gcc")])))
struct FailClosedStartTests {
    @Test(.timeLimit(.minutes(10))) func noStartRestartOrReloadLetsABlockedPacketThrough() async throws {
        try await DriverNetwork.withNetwork { net in
            try net.echo(22)
            try net.echo(23)
            let config = try net.writeServiceConfiguration()
            try await net.importBlockTelnet(config: config)
            // Computer startup: nothing is filtered before the startup mode (no network either).
            let boot = await sh("ip netns exec \(net.host) \(ServiceUnderTest.executable) boot --config \(config)")
            #expect(boot.status == 0, "\(boot.output)")
            #expect(boot.output.contains("stateful"), "\(boot.output)")
            let probe = try TrafficProbe(net, permitted: 22, blocked: 23, stream: nil)
            let service = try await ServiceUnderTest(net, config: config)
            for round in 0..<5 {
                try await service.killAndRestartAgent()
                if round % 2 == 0 {
                    // Both processes die: the driver started anew enforces its saved table at once.
                    if let driver = await service.driverPID() { service.kill(driver) }
                    try await service.killAndRestartAgent()
                }
                service.agent.signalIfRunning(SIGHUP)
                try await Task.sleep(for: .milliseconds(200))
            }
            let result = try await probe.stop()
            print("boot + run, 5 restarts, 3 with the driver, 5 reloads: \(result.line)")
            #expect(result.blocked > 100, "\(result.line)")
            #expect(result.leaked == 0, "\(result.line)\n\(service.logs)")
            try await service.stop()
        }
    }

    /// A plugin that takes 1.5 s to report blocks everything between this computer and the peer: the
    /// start waits for it (within its timeout) before the first table, so that no packet to a port only
    /// the plugin blocks passes — at the first start after `boot`, and after each restart of the agent.
    @Test(.timeLimit(.minutes(10))) func aLatePluginIsInTheFirstTable() async throws {
        try await DriverNetwork.withNetwork { net in
            let plugins = try await Self.slowPlugin(in: net.directory, blocking: net.peerAddress, delayMs: 1500)
            try net.echo(22)
            try net.echo(24)
            let config = try net.writeServiceConfiguration(
                extra: "plugin_dir = \(plugins.library)\nplugin_conf_dir = \(plugins.configuration)\n"
            )
            // A local policy too: the default startup mode is stateful only when a persistent, local or
            // directory policy is assigned (a plugin's does not count, as for Windows' own sources).
            try await net.importBlockTelnet(config: config)
            let boot = await sh("ip netns exec \(net.host) \(ServiceUnderTest.executable) boot --config \(config)")
            #expect(boot.output.contains("stateful"), "\(boot.output)")
            let probe = try TrafficProbe(net, permitted: 22, blocked: 24, stream: nil)
            let service = try await ServiceUnderTest(net, config: config)
            let status = await service.status()
            let sources = (status["sources"] as? [[String: Any]] ?? []).map {
                "\($0["name"] ?? "")=\($0["state"] ?? "")"
            }
            #expect(sources.contains("plugin:slow=in-effect"), "\(sources)\n\(service.logs)")
            for _ in 0..<3 {
                try await service.killAndRestartAgent()
                try await Task.sleep(for: .milliseconds(300))
            }
            let result = try await probe.stop()
            print("late plugin, boot + run + 3 restarts: \(result.line)")
            #expect(result.blocked > 100, "\(result.line)")
            #expect(result.leaked == 0, "\(result.line)\n\(service.logs)")
            try await service.stop()
        }
    }

    /// Builds Tests/PluginsTests/Fixtures/misbehaving.c into `directory/lib` and configures it in
    /// `directory/plugins.d` in its `slow` mode.
    static func slowPlugin(
        in directory: String,
        blocking address: String,
        delayMs: Int
    ) async throws -> (library: String, configuration: String) {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let library = directory + "/lib"
        let configuration = directory + "/plugins.d"
        for path in [library, configuration] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        let include = repository.appendingPathComponent("Sources/CIPsecPluginABI/include").path
        let source = repository.appendingPathComponent("Tests/PluginsTests/Fixtures/misbehaving.c").path
        let compiled = await sh(
            "cc -std=c11 -O2 -shared -fPIC -fvisibility=hidden -I \(include) -o \(library)/libslow.so \(source) -lpthread"
        )
        guard compiled.status == 0 else { throw TestFailure("cc failed: \(compiled.output)") }
        try """
        path = libslow.so
        enabled = yes
        timeout = 5
        option.mode = slow
        option.delay-ms = \(delayMs)
        option.address = \(address)

        """
        .write(toFile: configuration + "/slow.conf", atomically: true, encoding: .utf8)
        return (library, configuration)
    }
}
