import IPsecSystem
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

struct BlockingPoolTests {
    @Test func jobsRunAtTheSameTimeNotOneAfterAnother() async throws {
        let pool = BlockingPool(width: 3, name: "pool-test")
        let arrived = Counter()
        // Each job waits until all three have started: a serial pool would never finish the first.
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    await pool.run { () -> Bool in
                        arrived.value.add(1, ordering: .relaxed)
                        for _ in 0..<3000 where arrived.value.load(ordering: .relaxed) < 3 { usleep(1000) }
                        return arrived.value.load(ordering: .relaxed) == 3
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results == [true, true, true])
    }

    @Test func errorsReachTheCaller() async {
        let error = await #expect(throws: SystemError.self) {
            try await BlockingPool.shared.run { () throws(SystemError) in
                _ = try FileSystem.read("/nonexistent", limit: 1)
            }
        }
        #expect(error?.errno == .noSuchFile)
    }

    @Test func dedicatedThreadsCarryTheirName() async throws {
        // The creating thread names it, just after it started: look for a while.
        let name = try await DedicatedThread.run(name: "ipsecsvc-named") { () -> String in
            var name = ""
            for _ in 0..<1000 {
                name = (try? FileSystem.readText("/proc/thread-self/comm", limit: 64)) ?? ""
                if name != "ipsecsvc-named\n" { usleep(1000) } else { break }
            }
            return name
        }
        #expect(name == "ipsecsvc-named\n")
    }
}

struct LoopEndTests {
    @Test func waitersBeforeAndAfterTheEndReturn() async throws {
        let end = LoopEnd()
        try DedicatedThread.start(name: "loop-end-test") {
            usleep(20_000)
            end.finish()
        }
        await end.wait()
        await end.wait()
    }
}

private final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

struct SocketAndInterfaceTests {
    @Test func peerCredentialsNameThisProcess() throws {
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { pair.forEach { close($0) } }
        let peer = try PeerCredentials.of(socket: pair[0])
        #expect(peer == PeerCredentials(pid: getpid(), uid: getuid(), gid: getgid()))
        let error = #expect(throws: SystemError.self) { try PeerCredentials.of(socket: -1) }
        #expect(error?.description == "getsockopt(SO_PEERCRED): bad file descriptor")
        // The peer (this process) runs. (An exited one: DriverFailureTests, through the driver's lock.)
        #expect(!PeerCredentials.peerHasExited(socket: pair[0], pid: peer.pid))
    }

    @Test func interfaceAddressesIncludeLoopback() throws {
        let addresses = try interfaceAddresses()
        let loopback = try #require(addresses.first { $0.interface == "lo" && $0.family == .ipv4 })
        #expect(loopback.isLoopback)
        #expect(loopback.ipv4 == 0x7F00_0001)
        #expect(loopback.ipv4Netmask == 0xFF00_0000)
        let link = try #require(addresses.first { $0.interface == "lo" && $0.family == .link })
        #expect(link.linkIndex == 1)
        #expect(link.hardwareType == 772)  // ARPHRD_LOOPBACK
        #expect(link.ipv4 == nil)
    }

    @Test func errnoReadsAsPartOfASentence() {
        #expect(Errno.noSuchFile.description == "no such file or directory")
        #expect(Errno(rawValue: EIO).description == "input/output error")
        #expect(SystemError("fsync", path: "/x", errno: .timedOut).description == "/x: fsync: connection timed out")
    }
}
