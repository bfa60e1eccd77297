import Driver
import PolicyModel
import Testing

@Suite struct DecisionTests {
    let key = Fixture.tcp(Fixture.peer, 40000, Fixture.me, 22)

    func context(
        _ action: FilterAction,
        sa: any SecurityAssociations = KernelSecurityAssociations(),
        level: Int = 3,
        mode: OperationalMode? = .secure
    ) -> DecisionContext {
        let table = Fixture.table([Fixture.effective(Fixture.filter(1, .host(Fixture.peer), .me), action)])
        return DecisionContext(
            table: table,
            mode: mode,
            exemptionLevel: level,
            broadcastAddresses: [IPv4Address(198, 18, 0, 255).value],
            securityAssociations: sa,
            epoch: 5
        )
    }

    @Test func negotiateDropsClearTraffic() {
        let c = context(Fixture.action(.negotiate))
        #expect(c.decide(key, direction: .inbound, mark: 0).reason == .negotiationRequired)
        #expect(c.decide(key.reversed, direction: .outbound, mark: 0).reason == .negotiationRequired)
        #expect(!c.decide(key, direction: .inbound, mark: 0).accepts)
    }

    @Test func inpassAcceptsClearInboundOnly() {
        let c = context(Fixture.action(.negotiate, inpass: true))
        #expect(c.decide(key, direction: .inbound, mark: 0).reason == .clearInboundPassThrough)
        #expect(c.decide(key.reversed, direction: .outbound, mark: 0).reason == .negotiationRequired)
    }

    @Test func softAcceptsClearOutboundOnly() {
        let c = context(Fixture.action(.negotiate, soft: true))
        #expect(c.decide(key, direction: .inbound, mark: 0).reason == .negotiationRequired)
        #expect(c.decide(key.reversed, direction: .outbound, mark: 0).reason == .clearFallback)
    }

    @Test func protectedTrafficIsAccepted() {
        let kernel = context(Fixture.action(.negotiate))
        let mark = DriverMarks.default.protected
        #expect(kernel.decide(key, direction: .inbound, mark: mark).reason == .protected)
        let fake = context(Fixture.action(.negotiate), sa: FakeSecurityAssociations(protectedPeers: [Fixture.peer]))
        #expect(fake.decide(key, direction: .inbound, mark: 0).reason == .protected)
        #expect(fake.decide(key.reversed, direction: .outbound, mark: 0).reason == .protected)
        // Negotiated flows never take the fast path.
        #expect(!fake.decide(key, direction: .inbound, mark: 0).fastPath)
    }

    @Test func fastPathOnlyWhenRepliesArePermittedToo() {
        let permit = context(Fixture.action(.permit))
        #expect(permit.decide(key, direction: .inbound, mark: 0).fastPath)
        // A one-way permit whose replies are blocked by a more specific filter: no fast path.
        let table = Fixture.table([
            Fixture.effective(Fixture.filter(1, .host(Fixture.peer), .me), Fixture.action(.permit)),
            Fixture.effective(
                Fixture.filter(2, .me, .host(Fixture.peer), proto: 6, sport: 22, mirrored: false),
                Fixture.action(.block)
            ),
        ])
        let c = DecisionContext(table: table, epoch: 3)
        let decision = c.decide(key, direction: .inbound, mark: 0)
        #expect(decision.reason == .permitted && !decision.fastPath)
        // Epoch 0 turns the fast path off.
        let off = DecisionContext(table: Fixture.table([]), epoch: 0)
        #expect(!off.decide(key, direction: .inbound, mark: 0).fastPath)
    }

    @Test func ikeIsAlwaysExempt() {
        let block = context(Fixture.action(.block))
        let ike = PacketKey(
            source: Fixture.peer,
            destination: Fixture.me,
            ipProtocol: 17,
            sourcePort: 500,
            destinationPort: 500
        )
        let natt = PacketKey(
            source: Fixture.peer,
            destination: Fixture.me,
            ipProtocol: 17,
            sourcePort: 1,
            destinationPort: 4500
        )
        for level in 0...3 {
            let c = context(Fixture.action(.block), level: level)
            #expect(c.decide(ike, direction: .inbound, mark: 0).reason == .exemptIKE)
            #expect(c.decide(natt, direction: .inbound, mark: 0).reason == .exemptIKE)
        }
        #expect(block.decide(key, direction: .inbound, mark: 0).reason == .blocked)
    }

    @Test(arguments: [
        (0, true, true, true, true),
        (1, true, true, false, false),
        (2, false, false, true, true),
        (3, true, false, false, false),
    ])
    func exemptionLevels(level: Int, multicastIn: Bool, multicastOut: Bool, rsvp: Bool, kerberos: Bool) {
        let broadcast: Set<UInt32> = [IPv4Address(198, 18, 0, 255).value]
        let multicast = PacketKey(source: Fixture.peer, destination: IPv4Address(224, 0, 0, 5), ipProtocol: 17)
        let directed = PacketKey(source: Fixture.peer, destination: IPv4Address(198, 18, 0, 255), ipProtocol: 17)
        let rsvpKey = PacketKey(source: Fixture.peer, destination: Fixture.me, ipProtocol: 46)
        let kdc = Fixture.tcp(Fixture.peer, 88, Fixture.me, 5000)
        func exempt(_ key: PacketKey, _ direction: TrafficDirection) -> DecisionReason? {
            DefaultExemptions.exemption(key, direction: direction, level: level, broadcastAddresses: broadcast)
        }
        #expect((exempt(multicast, .inbound) == .exemptMulticast) == multicastIn)
        #expect((exempt(directed, .inbound) == .exemptBroadcast) == multicastIn)
        #expect((exempt(multicast.reversed, .outbound) != nil) == false)
        #expect(
            (exempt(PacketKey(source: Fixture.me, destination: IPv4Address(239, 1, 1, 1), ipProtocol: 17), .outbound)
                == .exemptMulticast) == multicastOut
        )
        #expect((exempt(rsvpKey, .inbound) == .exemptRSVP) == rsvp)
        #expect((exempt(kdc, .inbound) == .exemptKerberos) == kerberos)
    }

    @Test func modesOverrideFilters() {
        #expect(
            context(Fixture.action(.permit), mode: .block).decide(key, direction: .inbound, mark: 0).reason
                == .modeBlock
        )
        #expect(
            context(Fixture.action(.block), mode: .permit).decide(key, direction: .inbound, mark: 0).reason
                == .modePermit
        )
    }

    @Test func diagnosticsLevels() {
        #expect(!DiagnosticsLevel(0).logs(.blocked, .inbound))
        #expect(DiagnosticsLevel(1).logs(.negotiationRequired, .outbound))
        #expect(!DiagnosticsLevel(1).logs(.blocked, .inbound))
        #expect(DiagnosticsLevel(2).logs(.blocked, .inbound))
        #expect(!DiagnosticsLevel(2).logs(.blocked, .outbound))
        #expect(DiagnosticsLevel(4).logs(.blocked, .outbound))
        #expect(!DiagnosticsLevel(7).logs(.permitted, .outbound))
    }

    @Test func flowMarks() {
        let marks = DriverMarks.default
        #expect(marks.flowMark(epoch: 1) == 0x0001_0000)
        #expect(marks.flowMark(epoch: 4095) == 0x0FFF_0000)
        #expect(marks.epochModulus == 4095)
        #expect(marks.protected & marks.flowMask == 0)
    }
}

@Suite struct DriverStatusTests {
    @Test func netshStatisticsNameTheDriverCounters() {
        let status = DriverStatus(
            counters: [
                "packets": 10, "drops.blocked": 3, "decision.exempt-ike.packets": 2,
                "decision.exempt-kerberos.packets": 1, "queue.dropped.full": 4,
            ]
        )
        let stats = Dictionary(uniqueKeysWithValues: status.netshStatistics.map { ($0.name, $0.value) })
        #expect(stats["Packets Filtered"] == 10)
        #expect(stats["Packets Blocked"] == 3)
        #expect(stats["Packets Exempt"] == 3)
        #expect(stats["Queue Drops"] == 4)
        #expect(stats["Active Associations"] == 0)
    }
}

@Suite struct NetfilterDriverTests {
    /// Without hooks and before secure mode the driver needs neither root nor a queue.
    @Test func statusReportsTableGenerationModeAndCounters() async throws {
        let driver = NetfilterDriver(
            configuration: NetfilterDriverConfiguration(
                hostInfo: StaticHostInfoSource(Fixture.host),
                installsHooks: false
            )
        )
        try await driver.configure(DriverSettings(exemptionLevel: 2))
        let policy = EffectivePolicy(
            generation: 9,
            filters: [
                Fixture.effective(Fixture.filter(1, .any, .me, proto: 6, dport: 23), Fixture.action(.block)),
                Fixture.effective(Fixture.filter(2, .me, .server(.wins)), Fixture.action(.block)),
            ]
        )
        try await driver.apply(policy)
        try await driver.enterStartupMode(.block, exemptions: [])
        let status = await driver.status()
        #expect(status.mode == .startup(.block))
        #expect(status.tableGeneration == 9)
        #expect(status.filterCount == 2)
        // `me` has two addresses, mirrored: four specific filters; WINS resolves to nothing.
        #expect(status.counters["table.specific-filters"] == 4)
        #expect(status.counters["table.unresolved-filters"] == 1)
        #expect((status.counters["table.epoch"] ?? 0) > 0)
        #expect(status.counters["queues.bound"] == 0)
    }
}
