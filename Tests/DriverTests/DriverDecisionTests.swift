import DecisionCore
import Driver
import IPsecTestKit
import PolicyModel
import Testing

/// What the driver adds around the decision core: the kernel's IPsec answer (packet marks), marks,
/// diagnostics levels, counters and status.
@Suite struct DriverDecisionTests {
    @Test func kernelMarkMeansProtected() {
        let table = DecisionFixture.table([
            DecisionFixture.effective(
                DecisionFixture.filter(1, .host(DecisionFixture.peer), .me),
                DecisionFixture.action(.negotiate)
            )
        ])
        let context = DecisionContext(table: table, securityAssociations: KernelSecurityAssociations())
        let key = DecisionFixture.tcp(DecisionFixture.peer, 40000, DecisionFixture.me, 22)
        #expect(context.decide(key, direction: .inbound, mark: DriverMarks.default.protected).reason == .protected)
        #expect(context.decide(key, direction: .inbound, mark: 0).reason == .negotiationRequired)
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
            counters: DriverCounters(byKey: [
                "packets": 10, "decision.permitted.packets": 4, "decision.blocked.packets": 3,
                "drops.blocked": 3, "decision.exempt-ike.packets": 2, "decision.exempt-kerberos.packets": 1,
                "queue.dropped.full": 4,
            ])
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
                hostInfo: StaticHostInfoSource(DecisionFixture.host),
                installsHooks: false
            )
        )
        try await driver.configure(DriverSettings(exemptionLevel: 2))
        let policy = EffectivePolicy(
            generation: 9,
            filters: [
                DecisionFixture.effective(
                    DecisionFixture.filter(1, .any, .me, proto: 6, dport: 23),
                    DecisionFixture.action(.block)
                ),
                DecisionFixture.effective(
                    DecisionFixture.filter(2, .me, .server(.wins)),
                    DecisionFixture.action(.block)
                ),
            ]
        )
        try await driver.apply(policy)
        try await driver.enterStartupMode(.block, exemptions: [])
        let status = await driver.status()
        #expect(status.mode == .startup(.block))
        #expect(status.tableGeneration == 9)
        #expect(status.filterCount == 2)
        // `me` has two addresses, mirrored: four specific filters; WINS resolves to nothing.
        let table = try #require(status.counters.table)
        #expect(table.specificFilters == 4)
        #expect(table.unresolvedFilters == 1)
        #expect(table.epoch > 0)
        #expect(table.queuesBound == 0)
    }
}
