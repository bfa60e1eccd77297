import Driver
import IPsecSystem
import IPsecTestKit
import PolicyModel
import Synchronization
import Testing

@testable import ServiceHost

/// After the service's stop (``RemoteDriver/shutdown()``) the agent's end of the driver link sends no
/// more changes: an apply still under way when the stop came is not repeated on a new connection (which
/// would hand the driver a table after its permit mode, or start a driver for a stopped service).
@Suite struct RemoteDriverShutdownTests {
    @Test(.timeLimit(.minutes(2))) func aCallUnderWayAtTheStopIsNotRepeatedAfterIt() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-shutdown")
        defer { directory.remove() }
        let socket = directory.file("driver.sock")
        let received = RemoteDriverReplayTests.Received()
        let (held, hold) = AsyncStream<Void>.makeStream()
        let (releases, release) = AsyncStream<Void>.makeStream()
        // A driver call that hangs: answered only once the test lets it.
        let handler = RemoteDriverReplayTests.handler(
            socket: socket,
            received: received,
            holding: hold,
            until: releases
        )
        let server = try DriverLinkServer(path: socket, journal: RecordingJournal(), handle: handler)
        try server.start()
        let remote = RemoteDriver(socketPath: socket, launcher: nil, role: "test")
        try await finally {
            try await remote.apply(RemoteDriverReplayTests.policy(generation: 1))
            let hung = Task { try await remote.apply(RemoteDriverReplayTests.policy(generation: 2)) }
            for await _ in held { break }
            // The stop closes the link, so the hung call's answer never comes on it.
            try await remote.shutdown()
            await #expect(throws: DriverError.self) { try await hung.value }
            await #expect(throws: DriverError.self) {
                try await remote.apply(RemoteDriverReplayTests.policy(generation: 3))
            }
        } cleanup: {
            release.yield()
            await server.stop()
        }

        let requests = received.requests.withLock { $0 }
        let shutdown = try #require(requests.firstIndex(of: .shutdown), "\(requests)")
        let after = requests[(shutdown + 1)...].filter {
            switch $0 {
            case .hello, .status, .decisionState: false
            default: true
            }
        }
        #expect(after.isEmpty, "the driver was told \(Array(after)) after the service's stop")
    }
}
