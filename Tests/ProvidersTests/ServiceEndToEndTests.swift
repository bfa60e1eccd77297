import Foundation
import IPsecTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The "done when", against the real `ipsecsvc` binary (built by `swift test`): a running service
/// with the memory driver, the CLI talking to it over the control socket.
@Suite(.serialized) struct ServiceEndToEndTests {
    static var executable: String {
        let test =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: test).deletingLastPathComponent().appendingPathComponent("ipsecsvc").path
    }

    static let fixtures = URL(fileURLWithPath: SnapshotFixtures.path(.base)).deletingLastPathComponent().path

    /// Runs one CLI command to completion; standard output and error together. The pipe read and the
    /// wait block, so they run on a thread of their own: the cooperative pool stays free.
    func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await offPool { try Self.runBlocking(arguments) }
    }

    private static func runBlocking(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `policy show --effective --json`: the policy names and source kinds of the effective filters.
    func effective(_ config: [String]) async throws -> [(policy: String, kind: String, gpo: String?)] {
        let result = try await run(["policy", "show", "--effective", "--json"] + config)
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let filters = ((object?["policy"] as? [String: Any])?["filters"] as? [[String: Any]]) ?? []
        return filters.map { filter in
            let provenance = filter["provenance"] as? [String: Any] ?? [:]
            return (
                provenance["policyName"] as? String ?? "", provenance["kind"] as? String ?? "",
                provenance["gpo"] as? String
            )
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func importDirectoryCacheAndExplainWithTheServiceRunning() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.executable), "build ipsecsvc first")
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let snapshot = dir.path + "/snapshot.ldif"
        let log = dir.path + "/service.log"
        dir.write(
            "ipsecsvc.conf",
            """
            state_dir = \(dir.path)/state
            socket = \(dir.path)/control.sock
            systemd = no
            driver = memory
            computer_dn = \(SnapshotFixtures.Computer.web.rawValue)
            directory_snapshot = \(snapshot)

            """
        )
        let config = ["--config", dir.path + "/ipsecsvc.conf"]
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let service = Process()
        service.executableURL = URL(fileURLWithPath: Self.executable)
        service.arguments = ["run"] + config
        service.standardOutput = FileHandle(forWritingAtPath: log)
        service.standardError = FileHandle(forWritingAtPath: log)
        try service.run()
        do {
            try await exercise(config: config, log: log, snapshot: snapshot)
        } catch {
            await Self.stop(service)
            throw error
        }
        await Self.stop(service)
    }

    /// SIGTERM and wait for the exit (off the pool).
    static func stop(_ service: Process) async {
        // Only while it runs: Process reaps its child, and a reaped PID may belong to another process.
        if service.isRunning { service.terminate() }
        _ = try? await offPool { service.waitUntilExit() }
    }

    func exercise(config: [String], log: String, snapshot: String) async throws {
        var running = false
        for _ in 0..<300 where !running {
            running = try await run(["service", "query"] + config).output.contains("RUNNING")
            if !running { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(
            running,
            "the service did not start: \(String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self))"
        )

        // Importing a local policy and assigning it changes the effective policy at once.
        let imported = try await run(
            ["policy", "import", Self.fixtures + "/local-policies.xml", "--assign", "Local Policy"] + config
        )
        #expect(imported.status == 0, "\(imported.output)")
        #expect(try await effective(config).map(\.policy) == ["Local Policy"])

        // A directory snapshot with an OU assignment overrides it.
        try FileManager.default.copyItem(atPath: Self.fixtures + "/directory-base.ldif", toPath: snapshot)
        #expect(try await run(["service", "refresh"] + config).status == 0)
        let directory = try await effective(config)
        #expect(directory.map(\.policy) == ["Web Policy"])
        #expect(directory.first?.kind == "directory")
        #expect(directory.first?.gpo == "Web IPsec")

        // Removing the snapshot switches to the cached copy, with an event saying so.
        try FileManager.default.removeItem(atPath: snapshot)
        #expect(try await run(["service", "refresh"] + config).status == 0)
        let cached = try await effective(config)
        #expect(cached.map(\.policy) == ["Web Policy"])
        #expect(cached.first?.kind == "directory-cache")
        let journal = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(journal.contains("applied locally cached copy of Active Directory storage IPsec policy \"Web Policy\""))

        // `me` is what the driver resolves it to: interfaces that are up, loopback excluded.
        let loopback = try await run(["explain", "--src", "127.0.0.1", "--dst", "198.18.3.1", "--json"] + config)
        let asked = try JSONDecoder().decode(ExplainedMe.self, from: Data(loopback.output.utf8))
        #expect(!asked.me.contains("127.0.0.1"))
        #expect(asked.matches.isEmpty, "\(loopback.output)")
        let me = try #require(asked.me.first, "this computer has no IPv4 address on an interface that is up")
        // explain names the deciding filter and its source.
        let explained = try await run(["explain", "--src", me, "--dst", "198.18.3.1"] + config)
        #expect(explained.output.contains("Decided by: rule \"Web Policy rule\""), "\(explained.output)")
        #expect(explained.output.contains("directory cache policy \"Web Policy\""))
        #expect(explained.output.contains("Verdict: block."))
    }
}

/// The part of `explain --json` that says what `me` is.
struct ExplainedMe: Decodable {
    struct Match: Decodable {}
    var me: [String]
    var matches: [Match]
}

/// Runs blocking work (a pipe read to its end, a process wait) on a thread of its own and resumes the
/// caller when it is done, so the cooperative pool stays free for the tests running in parallel.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do {
                continuation.resume(returning: try body())
            } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.start()
    }
}
