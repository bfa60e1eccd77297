import Foundation
import IPsecSystem
import IPsecTestKit
import PolicyModel
import Providers
import ServiceHost
import Synchronization
import Testing

/// Binding the control socket must leave the process-wide umask alone: other threads create files and
/// spawn children at the same moment, and each of them would inherit the narrowed mask (in CI a SwiftPM
/// build started beside an in-process control server wrote a manifest binary it could not execute).
@Suite struct ControlSocketUmaskTests {
    /// The permission bits a file created with mode 0666 gets now: 0666 less the umask. (Creating a file
    /// is how other threads meet the umask; reading `/proc/self/status` in a loop would also contend
    /// for the process's memory-map lock and slow every other suite down.)
    static func modeOfANewFile(at path: String) -> mode_t {
        let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o666)
        guard fd >= 0 else { return 0 }
        var status = stat()
        fstat(fd, &status)
        close(fd)
        unlink(path)
        return status.st_mode & 0o777
    }

    @Test func bindingLeavesTheUmaskAlone() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var configuration = ServiceConfiguration()
        configuration.stateDirectory = directory.path + "/state"
        configuration.socketPath = directory.path + "/control.sock"
        configuration.adminGroup = "ipsecsvc-test-no-such-group"
        configuration.socketMode = 0o660
        let fixed = configuration
        let agent = PolicyAgent(
            driver: FileBackedDriver(path: directory.path + "/driver-state", inner: nil),
            engine: TestEngine.make(in: directory),
            journal: RecordingJournal(),
            startType: .manual,
            settings: DynamicSettings()
        )
        let probe = directory.path + "/probe"
        let before = Self.modeOfANewFile(at: probe)
        let seen = Mutex<Set<mode_t>>([])
        let stop = Atomic<Bool>(false)
        let watched = LoopEnd()
        try DedicatedThread.start(name: "umask-watch") {
            while !stop.load(ordering: .acquiring) {
                let value = Self.modeOfANewFile(at: probe)
                seen.withLock { _ = $0.insert(value) }
            }
            watched.finish()
        }
        for _ in 0..<20 {
            let server = try ControlServer(configuration: fixed, registry: .standard(), journal: RecordingJournal()) {
                ControlContext(peer: $0, configuration: fixed, agent: agent, requestStop: {}, startGate: nil)
            }
            var status = stat()
            #expect(stat(fixed.socketPath, &status) == 0 && status.st_mode & 0o777 == 0o660)
            try server.start()
            await server.stop()
        }
        stop.store(true, ordering: .releasing)
        await watched.wait()
        #expect(seen.withLock { $0 } == [before])
        #expect(try FileSystem.entries(of: directory.path).filter { $0.hasPrefix(".bind.") }.isEmpty)
    }
}
