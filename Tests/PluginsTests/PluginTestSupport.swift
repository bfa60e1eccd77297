import Foundation
import IPsecTestKit
import PolicyModel
import Synchronization
import Testing

@testable import Plugins

/// Builds the C test plugins once per test run and finds the built `ipsecsvc` and Swift example.
enum PluginFixtures {
    struct Built: Sendable {
        var directory: String
        /// Tests/PluginsTests/Fixtures/misbehaving.c: every behaviour, chosen by `option.mode`.
        var fixture: String
        /// The same plugin with abi_version 2 in its table; its open would create ``openMarker``.
        var abiVersion2: String
        var openMarker: String
        /// Exports only ipsec_plugin_entry_v2.
        var entryV2: String
        /// Claims to be a Swift plugin built with another toolchain.
        var otherToolchain: String
        /// Examples/c-xmldir.
        var xmldir: String
    }

    struct BuildError: Error, CustomStringConvertible {
        var description: String
    }

    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let repository = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()

    /// Where SwiftPM put this test binary, `ipsecsvc` and `libInventoryPlugin.so`.
    static let buildDirectory: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return URL(fileURLWithPath: executable).deletingLastPathComponent().path
    }()

    static var ipsecsvc: String { buildDirectory + "/ipsecsvc" }
    static var inventoryPlugin: String { buildDirectory + "/libInventoryPlugin.so" }
    static var inventoryJSON: String {
        repository.appendingPathComponent("Examples/swift-inventory/inventory.json").path
    }

    static let built: Result<Built, BuildError> = {
        do {
            let directory = TemporaryDirectory(prefix: "ipsecsvc-plugin-fixtures").path
            let include = repository.appendingPathComponent("Sources/CIPsecPluginABI/include").path
            let fixtureSource = testsDirectory.appendingPathComponent("Fixtures/misbehaving.c").path
            let xmldirSource = repository.appendingPathComponent("Examples/c-xmldir/xmldir.c").path
            let built = Built(
                directory: directory,
                fixture: directory + "/libfixture.so",
                abiVersion2: directory + "/libabi2.so",
                openMarker: directory + "/abi2-opened",
                entryV2: directory + "/libentryv2.so",
                otherToolchain: directory + "/libtoolchain.so",
                xmldir: directory + "/libxmldir.so"
            )
            let common = ["-std=c11", "-O1", "-Wall", "-shared", "-fPIC", "-fvisibility=hidden", "-I", include]
            try run("/usr/bin/env", ["cc"] + common + ["-o", built.fixture, fixtureSource, "-lpthread"])
            try run(
                "/usr/bin/env",
                ["cc"] + common + [
                    "-DFIXTURE_ABI=2", "-DFIXTURE_OPEN_MARKER=\"\(built.openMarker)\"", "-o", built.abiVersion2,
                    fixtureSource, "-lpthread",
                ]
            )
            try run(
                "/usr/bin/env",
                ["cc"] + common + ["-DFIXTURE_ENTRY_V2", "-o", built.entryV2, fixtureSource, "-lpthread"]
            )
            try run("/usr/bin/env", ["cc"] + common + ["-o", built.xmldir, xmldirSource, "-lpthread"])
            try run(
                "/usr/bin/env",
                ["cc"] + common + [
                    "-DFIXTURE_TOOLCHAIN=\"swift-5.9\"", "-o", built.otherToolchain, fixtureSource, "-lpthread",
                ]
            )
            return .success(built)
        } catch let error as BuildError {
            return .failure(error)
        } catch {
            return .failure(BuildError(description: "\(error)"))
        }
    }()

    /// The built fixtures. The first call compiles them (cc, blocking): that happens on a thread of its
    /// own, never on the cooperative pool that the tests running in parallel share.
    static func require() async throws -> Built {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: built) }.start()
        }
    }

    /// Runs a short command (the compiler); its output goes to the test log on failure.
    static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BuildError(
                description: "\(arguments.joined(separator: " ")) failed: \(String(decoding: output, as: UTF8.self))"
            )
        }
    }

    /// A valid native document (the same policy as the fixture's `good` mode).
    static let sampleDocument = """
        <?xml version="1.0" encoding="UTF-8"?>
        <policyStore xmlns="urn:ipsecsvc:policy:1" version="1" assignedPolicy="{6a1f0c9e-0000-4000-8000-000000000003}">
          <filterList id="{6a1f0c9e-0000-4000-8000-000000000001}" name="Plugin blocked hosts">
            <filter id="{6a1f0c9e-0000-4000-8000-000000000011}" mirrored="true" protocol="any">
              <source><me/></source>
              <destination><host address="198.18.7.1"/></destination>
            </filter>
          </filterList>
          <filterAction id="{6a1f0c9e-0000-4000-8000-000000000002}" name="Plugin block" action="block" \
        inpass="false" soft="false" type="standard"/>
          <policy id="{6a1f0c9e-0000-4000-8000-000000000003}" name="Plugin policy" pollingIntervalSeconds="10800">
            <mainMode id="{6a1f0c9e-0000-4000-8000-000000000004}" masterKeyPFS="false" quickModeLimit="0" \
        lifetimeSeconds="28800" certificateToAccountMapping="false" omitCertificateRequest="false">
              <securityMethod encryption="3DES" integrity="SHA1" group="2" quickModeLimit="0" \
        lifetimeKilobytes="0" lifetimeSeconds="28800"/>
            </mainMode>
            <rule id="{6a1f0c9e-0000-4000-8000-000000000005}" name="Block plugin hosts" \
        filterAction="{6a1f0c9e-0000-4000-8000-000000000002}" interface="all" active="true" defaultResponse="false">
              <filterListRef filterList="{6a1f0c9e-0000-4000-8000-000000000001}"/>
              <kerberos/>
            </rule>
          </policy>
        </policyStore>

        """

    /// Whether PolicyFormats' native reader is implemented in this build (it lands from the xml branch).
    static let nativeReaderWorks: Bool = {
        (try? PluginDocumentValidator.native.validate(Array(sampleDocument.utf8), "probe")) != nil
    }()

    /// The real validator once the native reader exists; until then a stand-in that accepts complete
    /// `<policyStore>` documents without 999.x addresses, so that the supervision tests still run.
    static var validator: PluginDocumentValidator {
        nativeReaderWorks ? .native : standIn
    }

    private static let standIn = PluginDocumentValidator { bytes, source in
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.contains("<policyStore"), text.hasSuffix("</policyStore>") || text.hasSuffix("/>") else {
            throw BuildError(description: "\(source): not a complete policyStore document")
        }
        guard !text.contains("999.") else {
            throw BuildError(description: "\(source): 999.1.1.1 is not an IPv4 address")
        }
        return PolicyStore()
    }
}

/// Collects the supervisor's journal events.
final class RecordingLog: Sendable {
    private let events = Mutex<[PluginEvent]>([])

    var all: [PluginEvent] { events.withLock { $0 } }

    var sink: @Sendable (PluginEvent) -> Void {
        { event in self.events.withLock { $0.append(event) } }
    }
}

/// A configuration for tests: short timeouts and restart delays.
func testConfiguration(
    name: String = "fixture",
    path: String,
    options: [String: String] = [:],
    timeout: Duration = .seconds(30),
    isolation: PluginConfiguration.Isolation = .process,
    memoryLimit: Int = PluginConfiguration.defaultMemoryLimit
) -> PluginConfiguration {
    PluginConfiguration(
        name: name,
        file: "<test>",
        path: path,
        isolation: isolation,
        timeout: timeout,
        memoryLimit: memoryLimit,
        restartDelay: .milliseconds(200),
        restartDelayMax: .seconds(1),
        options: options.sorted { $0.key < $1.key }.map { PluginConfiguration.Option(key: $0.key, value: $0.value) }
    )
}

/// Runs `body` with a started supervisor (its ``PluginSupervisor/run()`` beside it) and always stops it
/// (killing its plugin host) afterwards.
func withSupervisor<T: Sendable>(
    _ configuration: PluginConfiguration,
    log: RecordingLog = RecordingLog(),
    _ body: @Sendable (PluginSupervisor) async throws -> T
) async throws -> T {
    let supervisor = PluginSupervisor(
        configuration: configuration,
        launcher: PluginLauncher(executable: PluginFixtures.ipsecsvc),
        validator: PluginFixtures.validator,
        log: log.sink
    )
    // Its background work, a child of this call until the stop ends it.
    async let supervising: Void = supervisor.run()
    await supervisor.start()
    do {
        let result = try await body(supervisor)
        await supervisor.stop()
        await supervising
        return result
    } catch {
        await supervisor.stop()
        await supervising
        throw error
    }
}

/// Polls the supervisor until `predicate` holds or `seconds` pass; returns the last state seen.
/// Generous: synchronous tests elsewhere in the run can hold the cooperative pool (two threads on a
/// two-core machine) for many seconds, and the supervisor's tasks wait for it too.
func waitFor(
    _ supervisor: PluginSupervisor,
    seconds: Double = 60,
    _ predicate: @Sendable (PluginSourceState) -> Bool
) async -> PluginSourceState {
    var state = await supervisor.state
    _ = await eventually(timeout: .seconds(seconds), interval: .milliseconds(50)) {
        state = await supervisor.state
        return predicate(state)
    }
    return state
}

extension PluginSourceState {
    var isRunning: Bool { health == .running }
    var isFailed: Bool { failureReason != nil }
}
