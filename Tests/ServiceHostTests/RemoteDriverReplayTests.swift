import DecisionCore
import Driver
import IPsecSystem
import IPsecTestKit
import PolicyModel
import Synchronization
import Testing

@testable import ServiceHost

/// What a reconnection hands a driver, and what a driver does with an overtaken table: never an older
/// table than the one the driver last took (DESIGN.md §1, "One hand-over at a time").
@Suite struct RemoteDriverReplayTests {
    /// What the driver sockets of one test received, in order.
    final class Received: Sendable {
        let requests = Mutex<[DriverRequest]>([])
        /// Whether the link already broke once (on the apply of generation 2).
        let broke = Atomic(false)

        var appliedGenerations: [UInt64] {
            requests.withLock { $0 }.compactMap { if case .apply(let stamp) = $0 { stamp.generation } else { nil } }
        }
    }

    /// A driver socket's handler that records every request in `received` and holds the first apply of
    /// generation 2: it yields to `holding`, and answers once `until` yields.
    static func handler(
        socket: String,
        received: Received,
        holding: AsyncStream<Void>.Continuation,
        until releases: AsyncStream<Void>
    ) -> DriverLinkServer.Handler {
        { request, _, _ in
            received.requests.withLock { $0.append(request) }
            if case .hello = request { return .hello(DriverProcessInfo(pid: 1, startedAt: 0, socket: socket)) }
            if case .apply(let stamp) = request, stamp.generation == 2,
                received.broke.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
            {
                holding.yield()
                for await _ in releases { break }
            }
            return .done
        }
    }

    static func policy(generation: UInt64) -> EffectivePolicy {
        var policy = PolicyWireTests.varied
        policy.generation = generation
        return policy
    }

    /// The driver takes generation 2, and its link breaks before the answer: the call is repeated on a
    /// new connection, whose hand-over must be generation 2 (it was generation 1, the table of the last
    /// answered call, which put the driver back on the older policy).
    @Test(.timeLimit(.minutes(2))) func aReconnectionDuringAnApplyHandsOverThatTable() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-replay")
        defer { directory.remove() }
        let socket = directory.file("driver.sock")
        let received = Received()
        let (crashes, crash) = AsyncStream<Void>.makeStream()
        let (resumes, resume) = AsyncStream<Void>.makeStream()
        // The apply of generation 2 is taken; the test ends the link before its answer can go out.
        let handler = Self.handler(socket: socket, received: received, holding: crash, until: resumes)
        let first = try DriverLinkServer(path: socket, journal: RecordingJournal(), handle: handler)
        try first.start()
        let remote = RemoteDriver(socketPath: socket, launcher: nil, role: "test")
        let second: Task<Void, any Error> = try await finally {
            try await remote.apply(Self.policy(generation: 1))
            let second = Task { try await remote.apply(Self.policy(generation: 2)) }
            for await _ in crashes { break }
            return second
        } cleanup: {
            await first.stop()
            resume.yield()
        }
        let restarted = try DriverLinkServer(path: socket, journal: RecordingJournal(), handle: handler)
        try restarted.start()
        try await finally {
            try await second.value
        } cleanup: {
            await restarted.stop()
        }

        let applied = received.appliedGenerations
        #expect(applied.first == 1 && applied.last == 2, "\(applied)")
        #expect(applied == applied.sorted(), "the driver was handed an older table after a newer one: \(applied)")
    }

    /// The driver process does not enforce a table older than the one it has from the same agent process
    /// (nor save it); another agent process's tables are its own sequence.
    @Test func theDriverIgnoresAnOverTakenTableOfTheSameAgent() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-replay")
        defer { directory.remove() }
        let local = try await DriverLinkTests.LocalDriver(
            socket: directory.file("driver.sock"),
            table: directory.file("driver-table")
        )
        let tables = try [1, 4, 5].map { try PolicyWire.encode(Self.policy(generation: $0)) }
        let newer = PolicyStamp(agent: "1@1", generation: 5)
        let stored = DriverRuntimeStore(path: directory.file("driver-table"))
        try await finally {
            #expect(await local.host.handle(.apply(newer), tail: tables[2]) == .done)
            let older = PolicyStamp(agent: "1@1", generation: 4)
            #expect(await local.host.handle(.apply(older), tail: tables[1]) == .done)
            #expect(await local.driver.status().tableGeneration == 5)
            let saved = try stored.load()
            #expect(saved?.record.stamp == newer)
            // A new agent process starts its generations again.
            let another = PolicyStamp(agent: "2@1", generation: 1)
            #expect(await local.host.handle(.apply(another), tail: tables[0]) == .done)
            #expect(await local.driver.status().tableGeneration == 1)
        } cleanup: {
            await local.server.stop()
        }
    }
}
