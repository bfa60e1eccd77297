import Foundation
import IPsecTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The control socket of the real service: authorization by SO_PEERCRED and robustness.
@Suite(.serialized) struct ServiceSocketIntegrationTests {
    @Test func malformedAndOversizedRequestsDoNotDisturbOthers() async throws {
        let sandbox = try ServiceSandbox(extraConfig: "max_request_bytes = 4096\nrequest_timeout = 8\n")
        defer { sandbox.remove() }
        let service = try sandbox.startRun()
        defer { service.terminate() }
        #expect(await sandbox.waitForRunning(), "log:\n\(service.output)")

        // A silent client holds a connection open while others are served.
        let silent = try #require(RawControl.connect(sandbox.socket))
        defer { close(silent) }

        func errorCode(_ answer: String) -> String? {
            let object = try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any]
            return (object?["error"] as? [String: Any])?["code"] as? String
        }
        #expect(errorCode(RawControl.exchange(sandbox.socket, Array("this is not json\n".utf8))) == "malformed-request")
        #expect(errorCode(RawControl.exchange(sandbox.socket, Array("{\"command\":1}\n".utf8))) == "malformed-request")
        let huge = Array(
            ("{\"version\":1,\"command\":\"service.status\",\"pad\":\"" + String(repeating: "x", count: 200_000)
                + "\"}\n").utf8
        )
        #expect(errorCode(RawControl.exchange(sandbox.socket, huge)) == "request-too-large")
        #expect(
            errorCode(RawControl.exchange(sandbox.socket, Array("{\"version\":1,\"command\":\"no.such\"}\n".utf8)))
                == "unknown-command"
        )
        #expect(
            errorCode(
                RawControl.exchange(sandbox.socket, Array("{\"version\":99,\"command\":\"service.status\"}\n".utf8))
            )
                == "unsupported-version"
        )
        let started = Date()
        let status = RawControl.request(sandbox.socket, #"{"version":1,"command":"service.status"}"#)
        #expect((status["body"] as? [String: Any])?["state"] as? String == "RUNNING")
        #expect(Date().timeIntervalSince(started) < 7, "a silent client must not delay others")

        // The silent client gets a timeout answer once its time is up.
        var value = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(silent, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        #expect(await RawControl.waitReadable(silent, timeout: 30))
        #expect(errorCode(RawControl.readAll(silent)) == "timeout")

        let query = try await sandbox.execute(["service", "query"] + sandbox.commonArguments)
        #expect(query.output.contains("RUNNING"))
    }

    @Test(.requires(.root, .command("setpriv", package: "util-linux"), .command("groupadd", package: "passwd")))
    func unprivilegedClientsAreRefusedAdminGroupMembersServed() async throws {
        let group = "ipsectest\(getpid() % 100_000)"
        let added = try await ServiceSandbox.tool(["groupadd", "--system", group])
        try #require(added == 0, "groupadd failed")
        defer { _ = ServiceSandbox.toolBlocking(["groupdel", group]) }
        let gid = try #require(GroupDatabase.gid(of: group))

        // Mode 0666 lets everyone connect, so SO_PEERCRED alone decides.
        let sandbox = try ServiceSandbox(extraConfig: "admin_group = \(group)\nsocket_mode = 0666\n")
        defer { sandbox.remove() }
        let service = try sandbox.startRun()
        defer { service.terminate() }
        #expect(await sandbox.waitForRunning(), "log:\n\(service.output)")

        let socketArguments = ["status", "--socket", sandbox.socket]
        let root = try await sandbox.execute(socketArguments)
        #expect(root.status == 0, "\(root.output)")
        #expect(root.output.contains("RUNNING"))

        let nobody = try await sandbox.execute(
            socketArguments,
            prefix: ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]
        )
        #expect(nobody.status != 0)
        #expect(nobody.output.contains("Access is denied"), "\(nobody.output)")
        #expect(
            await eventually { service.output.contains("MESSAGE_ID=540e0118f1d54a608fb55d33a4cfc578") }
        )
        #expect(service.output.contains("IPSECSVC_PEER_UID=65534"))

        let member = try await sandbox.execute(
            socketArguments,
            prefix: ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--groups", "\(gid)"]
        )
        #expect(member.status == 0, "\(member.output)")
        #expect(member.output.contains("RUNNING"))
    }

    @Test(.requires(.root, .command("setpriv", package: "util-linux")))
    func defaultSocketModeKeepsOthersOut() async throws {
        let sandbox = try ServiceSandbox(extraConfig: "admin_group = ipsecsvc-no-such-group\n")
        defer { sandbox.remove() }
        let service = try sandbox.startRun()
        defer { service.terminate() }
        #expect(await sandbox.waitForRunning(), "log:\n\(service.output)")
        var info = stat()
        stat(sandbox.socket, &info)
        #expect(info.st_mode & 0o777 == 0o660)
        let nobody = try await sandbox.execute(
            ["service", "query", "--socket", sandbox.socket],
            prefix: ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]
        )
        #expect(nobody.status != 0)
        #expect(nobody.output.contains("Access is denied"), "\(nobody.output)")
    }
}

extension ServiceSandbox {
    /// Runs a system tool quietly and returns its exit status.
    static func tool(_ argv: [String]) async throws -> Int32 {
        let process = try ServiceProcess(argv, output: "/dev/null")
        return await process.exited(timeout: 60) ?? -1
    }

    /// The same, blocking (for `defer`; the tools it runs end at once).
    static func toolBlocking(_ argv: [String]) -> Int32 {
        guard let process = try? ServiceProcess(argv, output: "/dev/null") else { return -1 }
        var status: Int32 = 0
        while waitpid(process.pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }
}
