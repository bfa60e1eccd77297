import DecisionCore
import Driver
import Foundation
import IPsecSystem
import IPsecTestKit
import Netsh
import PolicyFormats
import PolicyModel
import Providers
import ServiceHost
import Testing

/// A command another module would add: the registry and the client are generic over it.
enum EchoCommand: ControlCommand {
    struct Request: Codable, Sendable {
        var text: String
    }
    struct Response: Codable, Sendable {
        var text: String
        var uid: UInt32
    }
    static let name = "test.echo"
}

@Suite struct ControlSocketTests {
    func withServer(
        maxRequestBytes: Int = 1 << 20,
        gate: StartGate? = nil,
        driver: (any IPsecDriver)? = nil,
        _ body: (ServiceConfiguration, PolicyAgent) async throws -> Void
    ) async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var configuration = ServiceConfiguration()
        configuration.stateDirectory = directory.path + "/state"
        configuration.socketPath = directory.path + "/control.sock"
        configuration.maxRequestBytes = maxRequestBytes
        configuration.adminGroup = "ipsecsvc-test-no-such-group"
        let agent = PolicyAgent(
            driver: FileBackedDriver(path: directory.path + "/driver-state", inner: driver),
            engine: TestEngine.make(in: directory),
            journal: RecordingJournal(),
            startType: .manual,
            settings: DynamicSettings()
        )
        var registry = ControlRegistry.standard()
        registry.register(EchoCommand.self) { request, context in
            guard !request.text.isEmpty else { throw ControlError(.invalidArguments, "Say something.") }
            return EchoCommand.Response(text: request.text, uid: context.peer.uid)
        }
        let fixed = configuration
        let server = try ControlServer(configuration: fixed, registry: registry, journal: RecordingJournal()) { peer in
            ControlContext(peer: peer, configuration: fixed, agent: agent, requestStop: {}, startGate: gate)
        }
        try server.start()
        do {
            try await body(configuration, agent)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
        #expect(!FileManager.default.fileExists(atPath: configuration.socketPath))
    }

    /// A client that waits long for its answers: these tests check what the server answers, not how
    /// fast. Status reads the stores on the process's `BlockingPool`, which every suite of this test
    /// process shares; on a loaded machine (load 30+) a first answer took over 30 s.
    static func client(_ configuration: ServiceConfiguration) -> ControlClient {
        ControlClient(socketPath: configuration.socketPath, timeoutSeconds: 180)
    }

    @Test func registeredCommandsRoundTrip() async throws {
        try await withServer { configuration, agent in
            let client = Self.client(configuration)
            let echo = try await client.request(EchoCommand.self, .init(text: "hello"))
            #expect(echo.text == "hello")
            #expect(echo.uid == geteuid())
            await #expect(throws: ControlError(.invalidArguments, "Say something.")) {
                _ = try await client.request(EchoCommand.self, .init(text: ""))
            }
            #expect(try await client.request(StatusCommand.self, ControlEmpty()).state == .stopped)
            try await agent.start()
            #expect(try await client.request(StatusCommand.self, ControlEmpty()).state == .running)
            #expect(try await client.request(PingCommand.self, ControlEmpty()).pid == getpid())
            let settings = try await client.request(
                SetDynamicConfigCommand.self,
                .init(property: "ipsecdiagnostics", value: "5")
            )
            #expect(settings.diagnostics == 5)
            #expect(await agent.settings.diagnostics == 5)
        }
    }

    /// `dynamic-settings.conf` has one owner: `config.get` reads the file and `config.set` re-reads it
    /// under the store lock before changing one property, so a change made by another writer (the
    /// offline fallback of another process) is neither hidden nor overwritten.
    @Test func dynamicSettingsHaveOneCopyTheFile() async throws {
        try await withServer { configuration, agent in
            try await agent.start()
            let client = Self.client(configuration)
            _ = try await client.request(SetDynamicConfigCommand.self, .init(property: "ipsecdiagnostics", value: "5"))
            let store = ServiceStateStore(directory: configuration.stateDirectory)
            _ = try await BlockingPool.shared.run {
                try StateDirectoryLock.withLock(store.directory) {
                    try store.changeDynamicSettings(lockHeld: true) { try $0.set(property: "bootmode", value: "block") }
                }
            }
            let seen = try await client.request(GetDynamicConfigCommand.self, ControlEmpty())
            #expect(seen.bootMode == .block)
            #expect(seen.diagnostics == 5)
            let after = try await client.request(
                SetDynamicConfigCommand.self,
                .init(property: "ipsecexempt", value: "1")
            )
            #expect(after.bootMode == .block)
            #expect(after.diagnostics == 5)
            #expect(after.exemptionLevel == 1)
            #expect(try store.dynamicSettings() == after)
            #expect(await agent.configuredSettings == after)
            // ipsecexempt waits for the next service start; the rest applies at once.
            #expect(await agent.settings == DynamicSettings().applyingImmediateProperties(of: after))
            #expect(await agent.settings.exemptionLevel == 3)
        }
    }

    /// `netsh ipsec dynamic show stats` shows the running driver's counters (`netsh.dynamic.stats`).
    @Test func netshStatisticsAreTheDriversCounters() async throws {
        let driver = InMemoryDriver()
        await driver.setCounters(
            DriverCounters(byKey: ["decision.blocked.packets": 42, "decision.permitted.packets": 1192])
        )
        try await withServer(driver: driver) { configuration, agent in
            try await agent.start()
            let client = Self.client(configuration)
            let stats = try await client.request(NetshStatisticsCommand.self, ControlEmpty())
            let ipsec = Dictionary(stats.ipsec.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
            #expect(ipsec["Packets Blocked"] == 42)
            #expect(ipsec["Packets Filtered"] == 1234)
            #expect(stats.ipsec.map(\.name) == DriverStatus().netshStatistics.map(\.name))
            #expect(stats.ike.map(\.name).contains("Main Modes"))
            #expect(stats.ike.allSatisfy { $0.value == 0 })
            #expect(stats.ikeNote?.contains("IKE keying is off") == true)
            await driver.setCounters(
                DriverCounters(byKey: ["decision.blocked.packets": 43, "decision.permitted.packets": 1192])
            )
            let again = try await client.request(NetshStatisticsCommand.self, ControlEmpty())
            #expect(again.ipsec.first { $0.name == "Packets Blocked" }?.value == 43)
        }
    }

    /// Settings changes that reach the agent out of the order they were written in leave it with what
    /// the file holds: an older change never replaces a newer one.
    @Test func olderSettingsChangesDoNotReplaceNewerOnes() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = ServiceStateStore(directory: directory.path + "/state")
        let driver = InMemoryDriver()
        let agent = PolicyAgent(
            driver: driver,
            engine: TestEngine.make(in: directory),
            journal: RecordingJournal(),
            startType: .manual,
            settings: DynamicSettings()
        )
        try await agent.start()
        let first = try store.changeDynamicSettingsInOrder { try $0.set(property: "ipsecdiagnostics", value: "3") }
        let second = try store.changeDynamicSettingsInOrder { try $0.set(property: "ipsecloginterval", value: "600") }
        #expect(second.revision > first.revision)
        try await agent.updateSettings(second.settings, revision: second.revision)
        try await agent.updateSettings(first.settings, revision: first.revision)
        #expect(await agent.settings == second.settings)
        #expect(await agent.configuredSettings == (try store.dynamicSettings()))
        #expect(await driver.settings == second.settings.driverSettings)
    }

    /// Many concurrent `config.set` requests: the file keeps every change and the agent ends with it.
    @Test func concurrentSettingsChangesAllLand() async throws {
        try await withServer { configuration, agent in
            try await agent.start()
            let client = Self.client(configuration)
            let changes = [
                ("ipsecdiagnostics", "4"), ("ikelogging", "1"), ("strongcrlcheck", "2"), ("ipsecloginterval", "600"),
                ("ipsecexempt", "0"), ("bootmode", "block"), ("bootexemptions", "TCP:0:22:inbound"),
            ]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (property, value) in changes {
                    group.addTask {
                        _ = try await client.request(
                            SetDynamicConfigCommand.self,
                            .init(property: property, value: value)
                        )
                    }
                }
                try await group.waitForAll()
            }
            let file = try ServiceStateStore(directory: configuration.stateDirectory).dynamicSettings()
            for (property, value) in changes { #expect(file.value(of: property) == value, "\(property)") }
            #expect(await agent.configuredSettings == file)
            #expect(await agent.settings == DynamicSettings().applyingImmediateProperties(of: file))
        }
    }

    @Test func oversizedAndMalformedRequests() async throws {
        try await withServer(maxRequestBytes: 2048) { configuration, _ in
            let client = Self.client(configuration)
            let big = String(repeating: "x", count: 100_000)
            await #expect {
                _ = try await client.request(EchoCommand.self, .init(text: big))
            } throws: { ($0 as? ControlError)?.code == .tooLarge }
            // On a thread of its own: the server answering it is in this process.
            let answer = try await DedicatedThread.run(name: "test-exchange") {
                Result { () throws(ControlError) in try client.exchange(Array("{not json\n".utf8)) }
            }.get()
            #expect(String(decoding: answer, as: UTF8.self).contains("malformed-request"))
            #expect(try await client.request(EchoCommand.self, .init(text: "still fine")).text == "still fine")
        }
    }

    @Test func commandsWaitForTheStartWhileStatusAnswersAtOnce() async throws {
        let gate = StartGate()
        try await withServer(gate: gate) { (configuration: ServiceConfiguration, _: PolicyAgent) async throws in
            let client = Self.client(configuration)
            let order = EventOrder()
            let echo = Task {
                let answer = try await client.request(EchoCommand.self, .init(text: "after start"))
                await order.append("echo answered")
                return answer
            }
            // Status is answered while the start is pending.
            #expect(try await client.request(StatusCommand.self, ControlEmpty()).state == .stopped)
            // The echo request has reached the gate and waits there.
            let held = await eventually { () async -> Bool in await gate.heldCommands == 1 }
            #expect(held)
            await order.append("start completed")
            await gate.release()
            #expect(try await echo.value.text == "after start")
            #expect(await order.events == ["start completed", "echo answered"])
        }
    }

    @Test func absentSocketMeansNotRunning() throws {
        let client = ControlClient(socketPath: "/tmp/ipsecsvc-no-such-dir/control.sock")
        #expect(try !client.isListening())
        #expect {
            _ = try client.send(StatusCommand.self)
        } throws: { error in
            guard let error = error as? ControlError else { return false }
            return error.code == .notRunning && error.message.contains("The IPsec Services service is not running")
        }
    }

    @Test func shippedSampleConfigurationParses() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("packaging/ipsecsvc.conf")
        let text = try String(contentsOf: sample, encoding: .utf8)
        // Every documented key, uncommented, is accepted with its default.
        let uncommented = text.split(separator: "\n").map { line in
            line.hasPrefix("#") && line.dropFirst().first?.isLetter == true && line.contains(" = ")
                ? String(line.dropFirst()) : String(line)
        }.joined(separator: "\n")
        let configuration = try ServiceConfiguration.parse(uncommented, path: sample.path)
        var defaults = ServiceConfiguration()
        defaults.configPath = sample.path
        defaults.pidFile = "/run/ipsecsvc/ipsecsvc.pid"
        defaults.computerDN = "CN=HOST1,OU=Servers,DC=example,DC=com"
        defaults.directorySnapshot = "/var/lib/ipsecsvc/directory-snapshot"
        defaults.site = "Default-First-Site-Name"
        defaults.directoryPollingMinutes = 180
        defaults.directoryCheck = "/usr/local/sbin/check-domain-controller"
        defaults.dialupInterfaces = ["wg*", "tun-dialin*"]
        defaults.directoryMode = .ldap
        defaults.ldap.domain = "example.com"
        defaults.ldap.domainControllers = ["dc1.example.com", "dc2.example.com"]
        defaults.ldap.bindDN = "HOST1$@example.com"
        defaults.ldap.bindPasswordFile = "/etc/ipsecsvc/ldap-password"
        defaults.ldap.tlsCAFile = "/etc/ssl/certs/example-dc-ca.pem"
        defaults.ikeCADirectory = "/etc/ipsecsvc/ike/ca"
        defaults.ikeCertificateDirectory = "/etc/ipsecsvc/ike/certs"
        #expect(configuration == defaults)
    }
}

@Suite struct OfflineFallbackTests {
    @Test func storeCommandsWorkOnTheStateDirectoryWhenStopped() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let client = ControlClient(socketPath: directory.path + "/control.sock")
        let store = ServiceStateStore(directory: directory.path + "/state")
        let settings = try client.sendOrWorkOffline(
            SetDynamicConfigCommand.self,
            .init(property: "bootmode", value: "block"),
            stateDirectory: store.directory
        ) {
            try store.changeDynamicSettings(lockHeld: true) { try $0.set(property: "bootmode", value: "block") }
        }
        #expect(settings.bootMode == .block)
        #expect(try store.dynamicSettings().bootMode == .block)
    }
}

actor EventOrder {
    private(set) var events: [String] = []
    func append(_ event: String) { events.append(event) }
}
