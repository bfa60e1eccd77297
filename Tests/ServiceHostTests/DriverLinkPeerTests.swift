import IPsecSystem
import IPsecTestKit
import Synchronization
import Testing

@testable import ServiceHost

#if canImport(Glibc)
import Glibc
#endif

/// Who may use the driver socket is decided by the peer's credentials (`SO_PEERCRED`), not only by the
/// socket's mode: with the socket and its directory opened up to everyone, another user still gets no
/// answer and the refusal is journalled.
@Suite(
    .requires(
        .root,
        .command("setpriv", package: "util-linux"),
        .command("nc", package: "netcat-openbsd")
    )
)
struct DriverLinkPeerTests {
    final class RequestCount: Sendable {
        let count = Atomic(0)
    }

    @Test(.timeLimit(.minutes(2)))
    func anotherUserGetsNoAnswerAndTheRefusalIsJournalled() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-peer")
        defer { directory.remove() }
        let socket = directory.file("driver.sock")
        let journal = RecordingJournal()
        let requests = RequestCount()
        let server = try DriverLinkServer(path: socket, journal: journal) { _, _, _ in
            requests.count.add(1, ordering: .relaxed)
            return .done
        }
        try server.start()
        // The server is stopped (its thread and socket gone) before the test ends.
        try await finally {
            // Only the peer check is left to refuse uid 65534: the directory is searchable and the socket
            // writable by everyone (both are this test's own).
            #expect(chmod(directory.path, 0o711) == 0 && chmod(socket, 0o666) == 0, "chmod: errno \(errno)")

            // Root is served on the same socket (the refusal below is about the peer, not the socket).
            let client = try DriverLinkClient.connect(socket)
            let hello = DriverRequest.hello(LinkHello(version: DriverLink.version, pid: 1, role: "test"))
            guard case .done = try await client.request(hello, timeout: .seconds(60)) else {
                Issue.record("root was not served")
                return
            }
            client.close()
            #expect(requests.count.load(ordering: .relaxed) == 1)

            // The same hello from uid 65534: the driver closes the connection without reading or answering.
            // nc keeps its end open for 2 s after sending (`-q 2`; shutting down its side would end a served
            // connection before its answer), a window for an answer to show; a served request is answered
            // within milliseconds. That no answer came is the secondary check: the journal entry and the
            // handler's count below are the primary ones and need no window.
            let frame = try LinkFrame.make(.request, id: 1, hello).encoded
            let other = try await ChildProcess.run(
                Command(
                    "setpriv",
                    ["--reuid=65534", "--regid=65534", "--clear-groups", "nc", "-q", "2", "-U", socket],
                    standardInput: .bytes(frame),
                    standardOutput: .capture,
                    standardError: .capture
                ),
                timeout: .seconds(90)
            )
            #expect(other.output.isEmpty, "uid 65534 got an answer: \(other.output.count) bytes")
            let refusals = journal.entries.filter { $0.kind == .accessRefused }
            #expect(refusals.count == 1, "\(journal.entries)")
            #expect(refusals.first?.message.contains("uid 65534") == true, "\(refusals)")
            #expect(refusals.first?.priority == .warning)
            #expect(requests.count.load(ordering: .relaxed) == 1, "a request of uid 65534 reached the handler")
        } cleanup: {
            await server.stop()
        }
    }
}
