import Foundation
import IPsecTestKit
import Keying
import Synchronization
import Testing

@Suite struct ViciClientTests {
    /// A fake charon on a socket in a fresh directory.
    static func server(
        _ handler: @escaping FakeViciServer.Handler = FakeViciServer.succeedEverything
    ) throws -> (FakeViciServer, TemporaryDirectory) {
        let directory = TemporaryDirectory(prefix: "vici")
        return (try FakeViciServer(path: directory.file("charon.vici"), handler: handler), directory)
    }

    @Test func commandAndResponse() async throws {
        let (server, directory) = try Self.server { packet, _ in
            guard case .request("version", _) = packet else { return nil }
            return [.response(["daemon": "charon-systemd", "version": "5.9.8"])]
        }
        defer {
            server.stop()
            directory.remove()
        }
        let client = ViciClient(socketPath: server.path)
        let response = try await client.call("version")
        #expect(response.string("version") == "5.9.8")
        #expect(server.commands == ["version"])
        await client.closeIdleConnections()
    }

    @Test func recordedInitiateExchangeWithInterleavedEvents() async throws {
        // charon's answers to `initiate` on connection 4 of the recording: the registration's
        // confirmation, control-log events, the response, the unregistration's confirmation.
        let answers = try RecordedFrames.packets().filter { $0.frame.connection == 4 && !$0.frame.fromClient }
            .map(\.packet)
        let (server, directory) = try Self.server { packet, _ in
            switch packet {
            case .register("control-log"): [answers[0]]
            case .request("initiate", _):
                // An unrelated registered event interleaves with the stream.
                Array(answers[1...2]) + [.event("log", ["msg": "unrelated"])] + [answers[3], answers[4]]
            case .unregister("control-log"): [answers[5]]
            default: nil
            }
        }
        defer {
            server.stop()
            directory.remove()
        }
        let client = ViciClient(socketPath: server.path)
        let (logs, response) = try await client.stream(
            "initiate",
            ["ike": "win", "child": "host", "timeout": "5000"],
            event: "control-log"
        )
        #expect(response.succeeded)
        #expect(logs.count == 3)
        #expect(logs.allSatisfy { $0.string("msg") != "unrelated" })
        #expect(logs.first?.string("msg")?.contains("initiat") == true)
        await client.closeIdleConnections()
    }

    @Test func streamedListReplaysTheRecordedSA() async throws {
        let recorded = try RecordedFrames.packets().first {
            if case .event("list-sa", _) = $0.packet { true } else { false }
        }!.packet
        let (server, directory) = try Self.server { packet, _ in
            guard case .request("list-sas", _) = packet else { return nil }
            return [recorded, recorded, .response(ViciMessage())]
        }
        defer {
            server.stop()
            directory.remove()
        }
        let client = ViciClient(socketPath: server.path)
        let (items, _) = try await client.stream("list-sas", event: "list-sa")
        #expect(items.count == 2)
        #expect(items.first?.section("win")?.string("state") == "ESTABLISHED")
        // Registered, requested, unregistered, in that order, on one connection.
        let order = server.received.withLock { $0.map(\.packet) }
        #expect(order == [.register("list-sa"), .request("list-sas", ViciMessage()), .unregister("list-sa")])
        await client.closeIdleConnections()
    }

    @Test func unknownCommandIsAnError() async throws {
        let (server, directory) = try Self.server { packet, _ in
            if case .request = packet { [.unknownCommand] } else { nil }
        }
        defer {
            server.stop()
            directory.remove()
        }
        let client = ViciClient(socketPath: server.path)
        await #expect(throws: ViciError.unknownCommand("no-such")) { try await client.call("no-such") }
        await client.closeIdleConnections()
    }

    @Test func failedCommandIsReportedByCheckedCall() async throws {
        let (server, directory) = try Self.server { packet, _ in
            if case .request = packet { [.response(["success": "no", "errmsg": "config 'x' not found"])] } else { nil }
        }
        defer {
            server.stop()
            directory.remove()
        }
        let client = ViciClient(socketPath: server.path)
        await #expect(throws: ViciError.commandFailed(command: "initiate", message: "config 'x' not found")) {
            try await client.checkedCall("initiate", ["child": "x"])
        }
        await client.closeIdleConnections()
    }

    @Test func timeoutClosesTheConnectionAndTheNextCallWorks() async throws {
        let silent = Atomic<Bool>(true)
        let (server, directory) = try Self.server { packet, _ in
            guard case .request = packet else { return nil }
            return silent.load(ordering: .relaxed) ? [] : [.response(["success": "yes"])]
        }
        defer {
            server.stop()
            directory.remove()
        }
        let client = ViciClient(socketPath: server.path)
        await #expect(throws: ViciError.timeout(command: "stats", milliseconds: 200)) {
            try await client.call("stats", timeout: .milliseconds(200))
        }
        // The timed-out connection is gone: a late answer can never be taken for the next call's.
        #expect(await eventually(timeout: patience) { server.connectionCount == 0 })
        silent.store(false, ordering: .relaxed)
        #expect(try await client.call("stats").succeeded)
        await client.closeIdleConnections()
    }

    @Test func slowCommandDoesNotHoldUpOthers() async throws {
        let release = Atomic<Bool>(false)
        let (server, directory) = try Self.server { packet, _ in
            switch packet {
            case .request("initiate", _):
                // Answers only once the other command has been answered.
                while !release.load(ordering: .relaxed) { usleep(1000) }
                return [.response(["success": "yes"])]
            case .request("version", _):
                release.store(true, ordering: .relaxed)
                return [.response(["version": "5.9.8"])]
            default: return nil
            }
        }
        defer {
            server.stop()
            directory.remove()
        }
        let client = ViciClient(socketPath: server.path)
        async let slow = client.call("initiate", timeout: .seconds(20))
        // The slow command is with the server (which holds its answer) before the other one is sent.
        #expect(await eventually(timeout: patience) { server.commands.contains("initiate") })
        #expect(try await client.call("version", timeout: .seconds(20)).string("version") == "5.9.8")
        #expect(try await slow.succeeded)
        await client.closeIdleConnections()
    }

    @Test func callsFailWhileCharonIsDownAndWorkWhenItIsBack() async throws {
        let (server, directory) = try Self.server()
        defer {
            server.stop()
            directory.remove()
        }
        let client = ViciClient(socketPath: server.path)
        #expect(try await client.call("version").succeeded)
        server.stop()
        await #expect {
            try await client.call("version")
        } throws: { error in
            (error as? ViciError)?.isConnectionLoss == true
        }
        try server.start()
        #expect(try await client.call("version").succeeded)
        await client.closeIdleConnections()
    }

    @Test func subscriptionReregistersAfterCharonRestarts() async throws {
        let (server, directory) = try Self.server()
        defer {
            server.stop()
            directory.remove()
        }
        let client = ViciClient(socketPath: server.path)
        let (events, sink) = AsyncStream<ViciSubscriptionEvent>.makeStream()
        // The subscription is a child of this test's scope, as it is of the keying engine's run().
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                await client.receive(["ike-updown", "child-updown"], retryInterval: .milliseconds(50)) {
                    sink.yield($0)
                }
                sink.finish()
            }
            var iterator = events.makeAsyncIterator()
            #expect(await iterator.next() == .connected)
            server.broadcast("ike-updown", ["up": "yes"])
            #expect(await iterator.next() == .event("ike-updown", ["up": "yes"]))
            // charon restarts: the connection drops, the subscription says so, reconnects, re-registers.
            server.stop()
            #expect(await iterator.next() == .disconnected(.disconnected))
            try server.start()
            var next = await iterator.next()
            while case .disconnected = next { next = await iterator.next() }
            #expect(next == .connected)
            #expect(
                await eventually(timeout: patience) {
                    server.received.withLock { $0.filter { $0.packet == .register("child-updown") }.count } == 2
                }
            )
            server.broadcast("child-updown", ["up": "yes"])
            #expect(await iterator.next() == .event("child-updown", ["up": "yes"]))
            // Cancelled with its scope: the subscription ends and hands nothing more.
            group.cancelAll()
        }
        var rest: [ViciSubscriptionEvent] = []
        for await event in events { rest.append(event) }
        #expect(rest.isEmpty, "\(rest)")
    }

    @Test func unknownEventEndsTheSubscription() async throws {
        let (server, directory) = try Self.server { packet, _ in
            if case .register("no-such-event") = packet { [.unknownEvent] } else { nil }
        }
        defer {
            server.stop()
            directory.remove()
        }
        let client = ViciClient(socketPath: server.path)
        let received = Mutex<[ViciSubscriptionEvent]>([])
        await client.receive(["no-such-event"]) { event in received.withLock { $0.append(event) } }
        #expect(received.withLock { $0 } == [.disconnected(.unknownEvent("no-such-event"))])
    }

    @Test func missingSocketIsUnavailable() async {
        let client = ViciClient(socketPath: "/tmp/ipsecsvc-no-such-dir/charon.vici")
        await #expect {
            try await client.call("version")
        } throws: { error in
            if case .unavailable = error as? ViciError { true } else { false }
        }
    }
}
