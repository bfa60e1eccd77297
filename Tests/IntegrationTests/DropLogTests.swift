import Foundation
import IPsecTestKit
import PolicyModel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 12 item 5: with `ipsecdiagnostics` set, the packets the kernel-only modes drop (startup
/// stateful and block, operational block) are logged like secure mode's drops and counted in `status`.
/// Root only.
@Suite(.serialized, .requires(DriverTestEnvironment.requirement))
struct DropLogTests {
    @Test(.timeLimit(.minutes(5))) func startupBlockDropsAreLoggedAndCounted() async throws {
        try await DriverNetwork.withNetwork { net in
            try net.listen(23)
            let config = try net.writeServiceConfiguration()
            try Self.settings("bootmode=block\nipsecdiagnostics=2\n", in: net)
            let boot = await sh("ip netns exec \(net.host) \(ServiceUnderTest.executable) boot --config \(config)")
            #expect(boot.status == 0, "\(boot.output)")
            try await expectLoggedAndCounted(
                net,
                config: config,
                port: 23,
                mode: "startup-block",
                words: "startup block"
            )
        }
    }

    @Test(.timeLimit(.minutes(5))) func operationalBlockDropsAreLoggedAndCounted() async throws {
        try await DriverNetwork.withNetwork { net in
            try net.listen(22)
            let config = try net.writeServiceConfiguration()
            try Self.settings("ipsecdiagnostics=2\n", in: net)
            // A persistent store that does not load: block mode.
            try "<policyStore".write(toFile: "\(net.directory)/state/persistent.xml", atomically: true, encoding: .utf8)
            let service = try await ServiceUnderTest(net, config: config)
            #expect(await service.status()["driverMode"] as? String == "block")
            try await expectLoggedAndCounted(net, config: config, port: 22, mode: "block", words: "block")
            try await service.stop()
        }
    }

    static func settings(_ text: String, in net: DriverNetwork) throws {
        try FileManager.default.createDirectory(atPath: "\(net.directory)/state", withIntermediateDirectories: true)
        try text.write(toFile: "\(net.directory)/state/dynamic-settings.conf", atomically: true, encoding: .utf8)
    }

    /// Connections to `port` are dropped, each logged by the driver ("dropped inbound TCP A:p -> B:port:
    /// <words> mode") and counted (`drops.mode.<mode>.inbound`, read by `status` from the driver).
    func expectLoggedAndCounted(
        _ net: DriverNetwork,
        config: String,
        port: Int,
        mode: String,
        words: String
    ) async throws {
        for _ in 0..<3 { #expect(await net.blocked(from: net.peer, to: net.hostAddress, port: port)) }
        let expected = "dropped inbound TCP \(net.peerAddress):"
        let log = "\(net.directory)/state/ipsecsvc-driver.log"
        var text = ""
        var counted: UInt64 = 0
        for _ in 0..<200 {
            text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            let status = await sh("\(ServiceUnderTest.executable) status --json --config \(config)").output
            let json = (try? JSONSerialization.jsonObject(with: Data(status.utf8))) as? [String: Any] ?? [:]
            let counters = json["counters"] as? [String: Any] ?? [:]
            counted = (counters["drops.mode.\(mode).inbound"] as? NSNumber)?.uint64Value ?? 0
            if counted > 0, text.contains(expected) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(counted > 0, "no drops counted in status")
        let line = text.split(separator: "\n").first { $0.contains(expected) } ?? ""
        #expect(line.contains("-> \(net.hostAddress):\(port): \(words) mode"), "\(text)")
        #expect(line.contains("MESSAGE_ID=4cfe5d06756849378cff44ff83f6512b"), "\(line)")
    }
}
