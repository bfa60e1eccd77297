import Foundation
import IPsecTestKit
import Testing

/// `ipsecsvc plugin-host --check`, run as a plugin author runs it (no root needed).
@Suite(.serialized) struct PluginHostCheckTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let buildDirectory: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return URL(fileURLWithPath: executable).deletingLastPathComponent().path
    }()

    struct Result {
        var status: Int32
        var output: String
        var errors: String
    }

    /// Runs `ipsecsvc ARGS` with a 60-second bound; the child is killed if it overruns.
    static func ipsecsvc(_ arguments: [String]) async throws -> Result {
        try await run(buildDirectory + "/ipsecsvc", arguments)
    }

    /// Runs a program without blocking the cooperative pool: its output goes to files, and its end is
    /// awaited through the termination handler. Killed after 60 seconds.
    static func run(_ executable: String, _ arguments: [String]) async throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plugin-check-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputFile = directory.appendingPathComponent("out")
        let errorFile = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputFile)
        let errors = try FileHandle(forWritingTo: errorFile)
        defer {
            try? output.close()
            try? errors.close()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = errors
        let status = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<Int32, any Error>) in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
                return
            }
            Task {
                try? await Task.sleep(for: .seconds(60))
                // Only while it runs: the PID of a reaped child may belong to another process now.
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            }
        }
        return Result(
            status: status,
            output: (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "",
            errors: (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
        )
    }

    /// ``plugins``, built (the first time) on a thread of its own: cc and the wait for it block.
    static func builtPlugins() async -> (xmldir: String, fixture: String)? {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: plugins) }.start()
        }
    }

    /// Builds the C example and the misbehaving fixture with cc, as the guide says.
    static let plugins: (xmldir: String, fixture: String)? = {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-check").path
        let include = repository.appendingPathComponent("Sources/CIPsecPluginABI/include").path
        let builds = [
            (directory + "/libxmldir.so", repository.appendingPathComponent("Examples/c-xmldir/xmldir.c").path),
            (
                directory + "/libfixture.so",
                repository.appendingPathComponent("Tests/PluginsTests/Fixtures/misbehaving.c").path
            ),
        ]
        for (output, source) in builds {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-shared", "-fPIC", "-fvisibility=hidden", "-I", include,
                "-o", output, source, "-lpthread",
            ]
            guard (try? process.run()) != nil else { return nil }
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { return nil }
        }
        return (builds[0].0, builds[1].0)
    }()

    @Test func checkReportsAWorkingPlugin() async throws {
        let plugins = try #require(await Self.builtPlugins(), "cc could not build the plugins")
        let policies = FileManager.default.temporaryDirectory.appendingPathComponent("check-\(getpid())").path
        try FileManager.default.createDirectory(atPath: policies, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: policies) }
        let result = try await Self.ipsecsvc([
            "plugin-host", "--check", plugins.xmldir, "--option", "directory=\(policies)",
        ])
        #expect(result.output.contains("name:      xmldir 1.0.0"), "\(result.output)")
        #expect(result.output.contains("kind:      directory-like, rank 150 (default 150)"))
        // An empty directory gives an empty store: valid once the native reader exists.
        if result.status == 0 {
            #expect(result.output.contains("result:    OK"))
        } else {
            #expect(result.errors.contains("invalid document"), "\(result.errors)")
        }
    }

    @Test func theCExampleExportsOnlyItsEntry() async throws {
        let plugins = try #require(await Self.builtPlugins(), "cc could not build the plugins")
        let text = try await Self.run("/usr/bin/env", ["nm", "-D", "--defined-only", plugins.xmldir]).output
        let symbols = text.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
        #expect(symbols == ["ipsec_plugin_entry_v1"], "\(text)")
    }

    @Test func checkPrintsAnInvalidDocumentWithItsError() async throws {
        let plugins = try #require(await Self.builtPlugins(), "cc could not build the plugins")
        let result = try await Self.ipsecsvc([
            "plugin-host", "--check", plugins.fixture, "--option", "mode=invalid", "--print-document",
        ])
        #expect(result.status == 1)
        #expect(result.output.contains("result:    FAILED: invalid document: plugin:fixture:"), "\(result.output)")
        #expect(result.output.contains("<host address=\"999.1.1.1\"/>"))
    }

    @Test func checkExplainsACrash() async throws {
        let plugins = try #require(await Self.builtPlugins(), "cc could not build the plugins")
        let result = try await Self.ipsecsvc(["plugin-host", "--check", plugins.fixture, "--option", "mode=abort"])
        #expect(result.status == 1)
        #expect(
            result.output.contains("result:    FAILED: plugin host was killed by signal 6 (SIGABRT"),
            "\(result.output)"
        )
        #expect(result.errors.hasPrefix("ipsecsvc plugin-host: \(plugins.fixture): plugin host was killed by signal 6"))
    }

    @Test func checkNamesTheLineOfAnUnknownKey() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("typo-\(getpid()).conf").path
        try "path = /usr/lib/x.so\nenabled = yes\nrnak = 5\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try await Self.ipsecsvc(["plugin-host", "--check", "--config", file])
        #expect(result.status == 1)
        #expect(result.errors.hasPrefix("ipsecsvc plugin-host: \(file):3: unknown key \"rnak\""), "\(result.errors)")
    }
}
