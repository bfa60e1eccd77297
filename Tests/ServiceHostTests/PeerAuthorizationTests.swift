import IPsecSystem
import IPsecTestKit
import ServiceHost
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Who may use the control socket is decided from what the kernel recorded at `connect`, never from
/// `/proc/<pid>` at serve time (the peer may be gone and its PID reused by another process).
@Suite struct PeerAuthorizationTests {
    @Test func rootAndTheGroupsOfConnectTimeAreAuthorized() throws {
        let group = try #require(GroupDatabase.name(of: 0))
        let authorizer = PeerAuthorizer(groupName: group)
        #expect(authorizer.isAuthorized(PeerCredentials(pid: 1, uid: 0, gid: 0)))
        #expect(authorizer.isAuthorized(PeerCredentials(pid: 1, uid: 65534, gid: 0)))
        #expect(authorizer.isAuthorized(PeerCredentials(pid: 1, uid: 65534, gid: 65534, groups: [7, 0])))
        #expect(!authorizer.isAuthorized(PeerCredentials(pid: 1, uid: 65534, gid: 65534, groups: [7])))
        #expect(
            !PeerAuthorizer(groupName: "ipsecsvc-no-such-group").isAuthorized(
                PeerCredentials(pid: 1, uid: 65534, gid: 0)
            )
        )
    }

    /// A live process that is in the admin group now, under the PID a peer had when it connected without
    /// the group: the peer is refused (the old check read that process's `/proc/PID/status`).
    @Test(.enabled(if: geteuid() == 0, "needs root: setpriv --groups"))
    func aPIDThatIsInTheGroupNowDoesNotAuthorizeAPeerThatWasNot() async throws {
        // `daemon` (gid 1) exists on every Debian system.
        let group = try #require(GroupDatabase.name(of: 1))
        let member = try ChildProcess.spawn(
            Command("setpriv", ["--reuid", "65534", "--regid", "65534", "--groups", "1", "sleep", "30"])
        )
        defer {
            member.signal(SIGKILL)
            _ = member.wait(timeout: .seconds(5))
        }
        let inGroup = await eventually {
            let status = (try? FileSystem.readTextIfPresent("/proc/\(member.pid)/status", limit: 1 << 16)) ?? nil
            return status?.contains("\nGroups:\t1 ") == true && status?.contains("Name:\tsleep") == true
        }
        try #require(inGroup, "the member process did not start")
        let authorizer = PeerAuthorizer(groupName: group)
        #expect(!authorizer.isAuthorized(PeerCredentials(pid: member.pid, uid: 65534, gid: 65534, groups: [])))
        #expect(authorizer.isAuthorized(PeerCredentials(pid: member.pid, uid: 65534, gid: 65534, groups: [1])))
    }

    /// The groups a socket peer had at connect time come from the kernel (`SO_PEERGROUPS`).
    @Test func peerGroupsAreThoseOfTheConnectingProcess() throws {
        let (first, second) = try Descriptors.socketPair()
        defer {
            close(first)
            close(second)
        }
        let peer = try PeerCredentials.of(socket: first)
        #expect(peer.uid == geteuid())
        #expect(peer.pid == getpid())
        var own = [gid_t](repeating: 0, count: 256)
        let count = getgroups(Int32(own.count), &own)
        #expect(Set(peer.groups) == Set(own.prefix(Int(max(count, 0)))))
    }
}
