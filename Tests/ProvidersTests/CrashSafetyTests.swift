import Foundation
import IPsecSystem
import IPsecTestKit
import Providers
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Kills a process that replaces a store in a loop with SIGKILL at random moments, 200 times: the store
/// must always read back as one whole version, old or new.
@Suite struct CrashSafetyTests {
    /// What `ProvidersStoreWriter` writes for version `name`.
    static func version(_ name: String) -> [UInt8] {
        Array("policy=\(name)\n".utf8) + [UInt8](repeating: UInt8(ascii: name == "A" ? "a" : "b"), count: 256 * 1024)
    }

    static var writerPath: String {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(
            "ProvidersStoreWriter"
        ).path
    }

    // 200 starts of a debug binary: about 12 s alone, over a minute while the whole suite runs on two cores.
    @Test(.timeLimit(.minutes(5)))
    func sigkillDuringWritesLeavesOldOrNew() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = dir.state.localStore
        try DurableFile.write(Self.version("A"), to: store)
        let versions = [Self.version("A"), Self.version("B")]
        let writer = Self.writerPath
        try #require(FileManager.default.isExecutableFile(atPath: writer), "build ProvidersStoreWriter first")
        var generator = SystemRandomNumberGenerator()
        var sawB = false
        for round in 0..<200 {
            var pid: pid_t = 0
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup(writer), strdup(store), nil]
            defer { argv.forEach { free($0) } }
            let marker = store + ".started"
            unlink(marker)
            let spawned = posix_spawn(&pid, writer, nil, nil, argv, environ)
            try #require(spawned == 0, "posix_spawn failed: \(spawned)")
            // Wait until the helper has written once (its start-up can take long on a loaded machine),
            // then kill it at a random moment among its writes.
            // Task.sleep, not usleep: the cooperative pool stays free for the tests running in parallel.
            var waited = 0
            while access(marker, F_OK) != 0 && waited < 10_000 {
                try await Task.sleep(for: .microseconds(500))
                waited += 1
            }
            try await Task.sleep(for: .microseconds(Int.random(in: 0...8_000, using: &generator)))
            // Not reaped yet (only this waitpid reaps it), so the PID is still the writer's.
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: store)))
            #expect(versions.contains(bytes), "round \(round): the store is neither version (\(bytes.count) bytes)")
            if bytes == versions[1] { sawB = true }
        }
        // The helper really wrote: at least one kill left the other version.
        #expect(sawB)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
        // Temporary files of killed writers stay behind but are never read as the store.
        #expect(leftovers.allSatisfy { !$0.hasSuffix("local.xml") })
    }
}
