import DecisionCore
import Glibc
import IPsecTestKit
import Keying
import PolicyModel
import Synchronization
import Testing

/// Records keying's events.
final class RecordingKeyingEvents: KeyingEventSink {
    let events = Mutex<[KeyingEvent]>([])

    func keyingEvent(_ event: KeyingEvent) { events.withLock { $0.append(event) } }

    var all: [KeyingEvent] { events.withLock { $0 } }
}

/// A fake charon that remembers what was loaded and answers `initiate` as the test says.
final class ScriptedCharon: Sendable {
    enum InitiateAnswer: Sendable {
        case success
        /// Never answers (a peer that does not respond, charon still retransmitting).
        case silent
        /// Fails with these control-log lines.
        case failure([String])
    }

    let server: FakeViciServer
    let directory: TemporaryDirectory
    let initiate = Mutex<InitiateAnswer>(.success)
    /// How long `initiate` takes to answer (the fake's connection thread waits, never the pool).
    let initiateDelay = Mutex<Duration>(.zero)
    /// What `list-sas` streams.
    let sas = Mutex<[ViciMessage]>([])

    init() throws {
        directory = TemporaryDirectory(prefix: "keying")
        server = try FakeViciServer(path: directory.file("charon.vici"))
        server.setHandler { [self] packet, _ in answer(packet) }
    }

    func answer(_ packet: ViciPacket) -> [ViciPacket]? {
        guard case .request(let command, _) = packet else { return nil }
        switch command {
        case "version": return [.response(["daemon": "charon-systemd", "version": "5.9.8"])]
        case "get-conns": return [.response(["conns": .texts([])])]
        case "list-sas":
            return sas.withLock { $0 }.map { .event("list-sa", $0) } + [.response(ViciMessage())]
        case "initiate":
            let delay = initiateDelay.withLock { $0 }
            if delay > .zero { usleep(useconds_t(delay.components.attoseconds / 1_000_000_000_000)) }
            switch initiate.withLock({ $0 }) {
            case .success: return [.response(["success": "yes"])]
            case .silent: return []
            case .failure(let lines):
                return lines.map { .event("control-log", ["msg": .text($0)]) } + [
                    .response(["success": "no", "errmsg": "establishing CHILD_SA 'f' failed"])
                ]
            }
        default: return [.response(["success": "yes"])]
        }
    }

    func stop() {
        server.stop()
        directory.remove()
    }

    /// `list-sa` for an IKE SA of `connection` with `peer` whose responder cookie is `cookie`.
    static func sa(_ connection: String, peer: IPv4Address, cookie: String, state: String = "CONNECTING") -> ViciMessage
    {
        var message = ViciMessage()
        message[connection] = [
            "state": .text(state), "remote-host": .text(peer.description), "local-host": "198.18.9.1",
            "initiator-spi": "957de60a52c4a017", "responder-spi": .text(cookie),
        ]
        return message
    }
}

/// How long a test waits for something that happens elsewhere: generous, because the whole test
/// process can stall for most of a minute while CPU-bound suites hold both cooperative threads.
let patience: Duration = .seconds(120)

@Suite struct KeyingEngineTests {
    typealias F = PlannerFixture

    static func engine(
        _ charon: ScriptedCharon,
        _ events: RecordingKeyingEvents,
        negotiationTimeout: Duration = .seconds(5),
        callTimeout: Duration = .seconds(10)
    ) -> KeyingEngine {
        KeyingEngine(
            settings: KeyingSettings(
                viciSocket: charon.server.path,
                datapath: .libipsec,
                softFallbackDelay: .milliseconds(300),
                negotiationTimeout: negotiationTimeout
            ),
            events: events,
            hostSource: { PlannerFixture.host },
            retryInterval: .milliseconds(200),
            tickInterval: .milliseconds(50),
            callTimeout: callTimeout
        )
    }

    static func policy(_ filters: [EffectiveFilter], generation: UInt64 = 1) -> EffectivePolicy {
        EffectivePolicy(generation: generation, filters: filters)
    }

    static func connected(_ engine: KeyingEngine) async -> Bool {
        await eventually(timeout: patience) { await engine.status().connected }
    }

    /// Starts `engine` with its loops running as the service's group runs them (``KeyingEngine/run()``);
    /// the test's `stop()` ends them.
    static func start(_ engine: KeyingEngine) async {
        Task { await engine.run() }
        await engine.start()
    }

    /// An engine on `charon`, started and connected.
    static func started(
        _ charon: ScriptedCharon,
        _ events: RecordingKeyingEvents,
        negotiationTimeout: Duration = .seconds(5),
        callTimeout: Duration = .seconds(10)
    ) async throws -> KeyingEngine {
        let engine = engine(charon, events, negotiationTimeout: negotiationTimeout, callTimeout: callTimeout)
        await Self.start(engine)
        try #require(await connected(engine))
        return engine
    }

    @Test func loadsOnlyWhatChanged() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        let events = RecordingKeyingEvents()
        // Every step expects exactly the calls its change needs. A call that timed out would break its
        // connection and make the engine read charon's state again and load everything (a
        // resynchronisation, tested on its own), which a loaded machine did with the 10 s timeout: here
        // a call may take as long as the test waits.
        let engine = try await Self.started(charon, events, callTimeout: patience)
        let two = [
            F.filter(auth: [.preSharedKey("a")], rule: 1), F.filter(.me, .host(IPv4Address("198.18.9.3")!), rule: 2),
        ]
        await engine.apply(Self.policy(two))
        #expect(
            await eventually(timeout: patience) {
                charon.server.commands.filter { $0 == "load-conn" }.count == 2
                    && charon.server.commands.filter { $0 == "load-shared" }.count == 2
            }
        )
        // Secrets go before the connections that need them.
        let order = charon.server.commands.filter { $0.hasPrefix("load-") }
        #expect((order.firstIndex(of: "load-shared") ?? .max) < (order.firstIndex(of: "load-conn") ?? .max))
        charon.server.received.withLock { $0.removeAll() }

        // One rule's key changes: only its secret is loaded again, no connection is touched.
        let changed = [two[0], F.filter(.me, .host(IPv4Address("198.18.9.3")!), auth: [.preSharedKey("new")], rule: 2)]
        try #require(await Self.connected(engine))
        await engine.apply(Self.policy(changed, generation: 2))
        #expect(
            await eventually(timeout: patience) { charon.server.commands == ["load-shared"] },
            "\(charon.server.commands)"
        )
        charon.server.received.withLock { $0.removeAll() }

        // One rule's filter changes: its connection's SAs go, the connection is replaced.
        let ported = [
            two[0], F.filter(.me, .host(IPv4Address("198.18.9.3")!), auth: [.preSharedKey("new")], proto: 6, rule: 2),
        ]
        try #require(await Self.connected(engine))
        await engine.apply(Self.policy(ported, generation: 3))
        #expect(
            await eventually(timeout: patience) { charon.server.commands == ["terminate", "load-conn"] },
            "\(charon.server.commands)"
        )
        let replaced = charon.server.arguments(of: "load-conn").first?.names.first
        #expect(replaced?.hasSuffix("-198.18.9.3") == true)
        // The counters the load benchmark reads say the same.
        let counters = await engine.status().counters
        #expect(counters["charon.connections-loaded"] == 3 && counters["charon.secrets-loaded"] == 3)
        charon.server.received.withLock { $0.removeAll() }

        // A rule goes: its SAs, its connection and its secret go.
        try #require(await Self.connected(engine))
        await engine.apply(Self.policy([two[0]], generation: 4))
        #expect(
            await eventually(timeout: patience) {
                charon.server.commands == ["terminate", "unload-conn", "unload-shared"]
            },
            "\(charon.server.commands)"
        )
        #expect(await engine.status().connections == 1)
        await engine.stop()
    }

    @Test func everythingIsLoadedAgainAfterCharonRestarts() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        let events = RecordingKeyingEvents()
        let engine = try await Self.started(charon, events)
        await engine.apply(Self.policy([F.filter()]))
        charon.server.stop()
        #expect(await eventually(timeout: patience) { await !engine.status().connected })
        #expect(events.all.contains { if case .daemonLost = $0 { true } else { false } })
        charon.server.received.withLock { $0.removeAll() }
        try charon.server.start()
        #expect(await Self.connected(engine))
        #expect(await eventually(timeout: patience) { charon.server.commands.contains("load-conn") })
        #expect(charon.server.commands.contains("load-shared"))
        #expect(events.all.contains { if case .daemonConnected = $0 { true } else { false } })
        await engine.stop()
    }

    @Test func firstPacketStartsANegotiation() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        let events = RecordingKeyingEvents()
        let engine = try await Self.started(charon, events)
        await engine.apply(Self.policy([F.filter()]))
        engine.submit(.negotiate(NegotiationRequest(local: F.me, peer: F.peer, filterIndex: 0, generation: 1)))
        #expect(await eventually(timeout: patience) { await engine.status().counters["negotiations.succeeded"] == 1 })
        let initiate = try #require(charon.server.arguments(of: "initiate").first)
        #expect(initiate.string("ike")?.hasSuffix("-198.18.9.2") == true)
        #expect(initiate.string("child")?.hasPrefix("f") == true)
        #expect(events.negotiatedRule?.ruleName == "rule 1")
        // A request from an older policy generation is ignored.
        engine.submit(.negotiate(NegotiationRequest(local: F.me, peer: F.peer, filterIndex: 0, generation: 7)))
        try await Task.sleep(for: .milliseconds(100))
        #expect(charon.server.arguments(of: "initiate").count == 1)
        await engine.stop()
    }

    @Test func aNegotiationInProgressIsPublishedToTheDriver() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        charon.initiate.withLock { $0 = .silent }
        let engine = try await Self.started(charon, RecordingKeyingEvents(), negotiationTimeout: .seconds(60))
        await engine.apply(Self.policy([F.filter()]))
        let views = await engine.peerAssociations()
        engine.submit(.negotiate(NegotiationRequest(local: F.me, peer: F.peer, filterIndex: 0, generation: 1)))
        var negotiating = false
        for await view in views where view.negotiating.contains(F.peer) {
            negotiating = true
            break
        }
        #expect(negotiating)
        #expect(await engine.peerState(F.peer).negotiating)
        await engine.stop()
    }

    @Test func rangeRuleLoadsAConnectionForThePeerFirst() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        let engine = try await Self.started(charon, RecordingKeyingEvents())
        await engine.apply(Self.policy([F.filter(.me, .any)]))
        charon.server.received.withLock { $0.removeAll() }
        engine.submit(.negotiate(NegotiationRequest(local: F.me, peer: F.peer, filterIndex: 0, generation: 1)))
        #expect(await eventually(timeout: patience) { charon.server.commands.contains("initiate") })
        #expect(charon.server.commands == ["load-shared", "load-conn", "initiate"])
        let name = try #require(charon.server.arguments(of: "load-conn").first?.names.first)
        #expect(name.hasSuffix("@198.18.9.2"))
        #expect(charon.server.arguments(of: "initiate").first?.string("ike") == name)
        #expect(charon.server.arguments(of: "load-shared").first?.strings("owners") == ["198.18.9.2"])
        await engine.stop()
    }

    /// A call that breaks (a timeout while the test process stalls, here an answer nobody asked for)
    /// leaves charon's state unknown while the subscription stays registered, so charon sends no new
    /// `connected`: the engine reads its state again by itself, and a negotiation asked for meanwhile
    /// still reaches charon.
    @Test func aBrokenCallIsFollowedByAResynchronization() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        let engine = try await Self.started(charon, RecordingKeyingEvents())
        charon.server.setHandler { [charon] packet, _ in
            if case .request("load-conn", _) = packet, charon.server.commands.filter({ $0 == "load-conn" }).count == 1 {
                return [.confirm]
            }
            return charon.answer(packet)
        }
        await engine.apply(Self.policy([F.filter()]))
        engine.submit(.negotiate(NegotiationRequest(local: F.me, peer: F.peer, filterIndex: 0, generation: 1)))
        #expect(await eventually(timeout: patience) { await engine.status().counters["negotiations.succeeded"] == 1 })
        #expect(charon.server.commands.filter { $0 == "load-conn" }.count == 2, "\(charon.server.commands)")
        #expect(await engine.status().connected)
        await engine.stop()
    }

    @Test func aPeerThatNeverAnswersASoftRuleBecomesASoftPeerAndAgesOut() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        charon.initiate.withLock { $0 = .silent }
        let events = RecordingKeyingEvents()
        let engine = try await Self.started(charon, events)
        var filter = F.filter(action: F.action(soft: true))
        filter.negotiation?.softAssociationIdleSeconds = 5
        await engine.apply(Self.policy([filter]))
        let name = try #require(charon.server.arguments(of: "load-conn").first?.names.first)
        charon.sas.withLock { $0 = [ScriptedCharon.sa(name, peer: F.peer, cookie: "0000000000000000")] }
        let views = await engine.peerAssociations()
        engine.submit(.negotiate(NegotiationRequest(local: F.me, peer: F.peer, filterIndex: 0, generation: 1)))
        // The view only keeps the newest snapshot: a stalled test may never see the short negotiating one.
        var sawSoft = false
        for await view in views where view.softPeers.contains(F.peer) {
            sawSoft = true
            break
        }
        #expect(sawSoft)
        #expect(await engine.status().counters["negotiations.started"] == 1)
        #expect(events.all.contains { if case .softAssociationStarted(F.peer, _) = $0 { true } else { false } })
        #expect(await engine.status().softAssociations.map(\.peer) == [F.peer])
        // Its own time from the request: at least the soft delay (300 ms here).
        let fallback = await engine.status().softAssociations.first?.fallbackMilliseconds ?? 0
        #expect(fallback >= 300, "fell back after \(fallback) ms")
        #expect(await eventually(timeout: patience) { charon.server.commands.contains("terminate") })
        // Used, it stays; idle for its lifetime (5 s here), it goes.
        engine.submit(.softAssociationUsed(F.peer))
        #expect(await eventually(timeout: patience) { await engine.status().softAssociations.isEmpty })
        #expect(events.all.contains { if case .softAssociationEnded(F.peer, _) = $0 { true } else { false } })
        await engine.stop()
    }

    @Test func aSoftRuleWhoseNegotiationGaveUpUnansweredFallsBackAtOnce() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        charon.initiate.withLock {
            $0 = .failure(["sending packet: from 198.18.9.1[500] to 198.18.9.2[500]", "giving up after 3 retransmits"])
        }
        let events = RecordingKeyingEvents()
        let engine = try await Self.started(charon, events)
        await engine.apply(Self.policy([F.filter(action: F.action(soft: true))]))
        engine.submit(.negotiate(NegotiationRequest(local: F.me, peer: F.peer, filterIndex: 0, generation: 1)))
        #expect(await eventually(timeout: patience) { await engine.status().softAssociations.map(\.peer) == [F.peer] })
        #expect(await engine.status().counters["failures.no-answer"] == nil)
        await engine.stop()
    }

    @Test func aPeerThatAnsweredIsNeverASoftPeer() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        charon.initiate.withLock {
            $0 = .failure([
                "initiating Main Mode IKE_SA ipsecsvc-x[1] to 198.18.9.2",
                "received packet: from 198.18.9.2[500] to 198.18.9.1[500] (108 bytes)",
                "invalid HASH_V1 payload length, decryption failed?",
                "giving up after 3 retransmits",
            ])
        }
        // The answer comes after the soft delay, when charon no longer lists the failed IKE SA: no SA
        // is no evidence that the peer never answered.
        charon.initiateDelay.withLock { $0 = .milliseconds(600) }
        let events = RecordingKeyingEvents()
        let engine = try await Self.started(charon, events)
        await engine.apply(Self.policy([F.filter(action: F.action(soft: true))]))
        engine.submit(.negotiate(NegotiationRequest(local: F.me, peer: F.peer, filterIndex: 0, generation: 1)))
        #expect(await eventually(timeout: patience) { await engine.status().counters["failures.authentication"] == 1 })
        let failure = try #require(await engine.status().recentFailures.last)
        #expect(failure.reason == .authenticationFailed)
        #expect(failure.peer == F.peer)
        #expect(failure.detail.contains("decryption failed"))
        #expect(events.all.contains(.negotiationFailed(failure)))
        try await Task.sleep(for: .milliseconds(500))
        #expect(await engine.status().softAssociations.isEmpty)
        await engine.stop()
    }

    /// charon has no limit of quick modes per main mode: after the policy's limit keying
    /// re-authenticates the main mode, so that the next quick mode gets fresh keying material.
    @Test func theQuickModeLimitReauthenticatesTheMainMode() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        let engine = try await Self.started(charon, RecordingKeyingEvents())
        let limited = MainModeSettings(id: F.guid(0xB0), quickModeLimit: 2)
        await engine.apply(Self.policy([F.filter(mainMode: limited)]))
        let name = try #require(charon.server.arguments(of: "load-conn").first?.names.first)
        let subscribed = await eventually(timeout: patience) {
            charon.server.received.withLock { list in
                list.contains { if case .register("child-updown") = $0.packet { true } else { false } }
            }
        }
        try #require(subscribed)
        func quickMode(_ number: UInt64) async -> Bool {
            var updown = ViciMessage()
            updown["up"] = "yes"
            updown[name] = ["uniqueid": "7", "remote-host": .text(F.peer.description)]
            charon.server.broadcast("child-updown", updown)
            return await eventually(timeout: patience) { await engine.status().counters["quick-modes"] == number }
        }
        #expect(await quickMode(1))
        #expect(!charon.server.commands.contains("rekey"))
        #expect(await quickMode(2))
        #expect(await eventually(timeout: patience) { charon.server.commands.contains("rekey") })
        let rekey = try #require(charon.server.arguments(of: "rekey").first)
        #expect(rekey.string("ike-id") == "7" && rekey.string("reauth") == "yes")
        #expect(await engine.status().counters["main-modes.reauthenticated"] == 1)
        await engine.stop()
    }

    @Test func kerberosOnlyRulesAreReportedOnceAndNeverInitiated() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        let events = RecordingKeyingEvents()
        let engine = try await Self.started(charon, events)
        await engine.apply(Self.policy([F.filter(auth: [.kerberos])]))
        await engine.apply(Self.policy([F.filter(auth: [.kerberos])], generation: 2))
        let reports = events.all.filter { if case .notNegotiable = $0 { true } else { false } }
        #expect(reports.count == 1)
        engine.submit(.negotiate(NegotiationRequest(local: F.me, peer: F.peer, filterIndex: 0, generation: 2)))
        #expect(await eventually(timeout: patience) { await engine.status().counters["failures.not-negotiable"] == 1 })
        #expect(!charon.server.commands.contains("initiate"))
        let status = await engine.status()
        #expect(status.unnegotiable.first?.reason.contains("cannot be negotiated on Linux") == true)
        await engine.stop()
    }

    /// The service may start before charon (its unit cannot order itself after strongswan.service:
    /// docs/keying.md): negotiations fail at once until charon answers, then everything is loaded.
    @Test func withCharonDownNegotiationsFailAtOnceUntilItComes() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        charon.server.stop()
        let events = RecordingKeyingEvents()
        let engine = Self.engine(charon, events)
        await Self.start(engine)
        await engine.apply(Self.policy([F.filter()]))
        engine.submit(.negotiate(NegotiationRequest(local: F.me, peer: F.peer, filterIndex: 0, generation: 1)))
        #expect(
            await eventually(timeout: patience) { await engine.status().counters["failures.daemon-unavailable"] == 1 }
        )
        let status = await engine.status()
        #expect(!status.connected)
        #expect(status.lastError != nil)
        #expect(status.recentFailures.last?.reason == .daemonUnavailable)
        try charon.server.start()
        #expect(await Self.connected(engine))
        #expect(await eventually(timeout: patience) { charon.server.commands.contains("load-conn") })
        #expect(charon.server.commands.contains("load-shared"))
        await engine.stop()
    }

    @Test func stopUnloadsWhatTheServiceLoaded() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        let engine = try await Self.started(charon, RecordingKeyingEvents())
        await engine.apply(Self.policy([F.filter()]))
        charon.server.received.withLock { $0.removeAll() }
        await engine.stop()
        #expect(charon.server.commands == ["terminate", "unload-conn", "unload-shared"])
    }

    /// Keying's loops are children of `run()` (a `Service` of the `run` process's group): it waits for
    /// `start()`, and `stop()` ends them and waits for that before it unloads, so `run()` has returned
    /// and charon hears nothing more from this engine.
    @Test func runHoldsTheLoopsFromStartToStop() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        let engine = Self.engine(charon, RecordingKeyingEvents())
        let ended = RunEnded()
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                await engine.run()
                ended.flag.store(true, ordering: .relaxed)
            }
            // Nothing runs before the start: no subscription, no call.
            try await Task.sleep(for: .milliseconds(200))
            #expect(charon.server.commands.isEmpty && charon.server.connectionCount == 0)
            await engine.start()
            try #require(await Self.connected(engine))
            await engine.apply(Self.policy([F.filter()]))
            await engine.stop()
            #expect(await eventually(timeout: patience) { ended.flag.load(ordering: .relaxed) })
            charon.server.received.withLock { $0.removeAll() }
            // A charon restart after the stop: no loop is left to read its state again and load.
            charon.server.dropConnections()
            try await Task.sleep(for: .milliseconds(300))
            #expect(charon.server.commands.isEmpty, "\(charon.server.commands)")
        }
    }

    /// Cancelling `run()` (the group's cancellation) ends the loops as well: the driver's requests are
    /// no longer handled. `stop()` afterwards still unloads.
    @Test func cancellingRunEndsTheLoops() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        let engine = Self.engine(charon, RecordingKeyingEvents())
        await withDiscardingTaskGroup { group in
            group.addTask { await engine.run() }
            await engine.start()
            #expect(await Self.connected(engine))
            await engine.apply(Self.policy([F.filter()]))
            group.cancelAll()
        }
        engine.submit(.negotiate(NegotiationRequest(local: F.me, peer: F.peer, filterIndex: 0, generation: 1)))
        try await Task.sleep(for: .milliseconds(300))
        #expect(charon.server.arguments(of: "initiate").isEmpty)
        charon.server.received.withLock { $0.removeAll() }
        await engine.stop()
        #expect(charon.server.commands == ["terminate", "unload-conn", "unload-shared"])
    }

    /// A stop before the start (a service start that failed): `run()` returns at once.
    @Test func aStopBeforeTheStartEndsRunAtOnce() async throws {
        let charon = try ScriptedCharon()
        defer { charon.stop() }
        let engine = Self.engine(charon, RecordingKeyingEvents())
        await engine.stop()
        await engine.run()
        #expect(charon.server.commands.isEmpty)
    }

    final class RunEnded: Sendable {
        let flag = Atomic<Bool>(false)
    }

    @Test(
        arguments: [
            (
                ["sending packet: from 198.18.9.1[500] to 198.18.9.2[500]", "giving up after 3 retransmits"],
                NegotiationFailureReason.noAnswer
            ),
            (
                [
                    "received packet: from 198.18.9.2[500] to 198.18.9.1[500]",
                    "received NO_PROPOSAL_CHOSEN error notify",
                ], .noProposalChosen
            ),
            (
                ["received packet: from 198.18.9.2[500] to 198.18.9.1[500]", "received AUTHENTICATION_FAILED notify"],
                .authenticationFailed
            ),
            (["received packet: from 198.18.9.2[500] to 198.18.9.1[500]", "something unexpected"], .failed),
        ] as [([String], NegotiationFailureReason)]
    )
    func failureReasons(lines: [String], expected: NegotiationFailureReason) {
        let (reason, _) = KeyingEngine.classify(
            .success(["success": "no", "errmsg": "establishing CHILD_SA 'f' failed"]),
            lines.map { ["msg": .text($0)] },
            peer: F.peer
        )
        #expect(reason == expected)
        #expect(KeyingEngine.classify(.failure(.unavailable("x")), [], peer: F.peer).0 == .daemonUnavailable)
        #expect(
            KeyingEngine.classify(.failure(.timeout(command: "initiate", milliseconds: 1)), [], peer: F.peer).0
                == .noAnswer
        )
    }
}

extension RecordingKeyingEvents {
    /// The rule of the first `negotiated` event.
    var negotiatedRule: RuleReference? {
        all.compactMap { if case .negotiated(_, let rule) = $0 { rule } else { nil } }.first
    }
}
