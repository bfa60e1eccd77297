import DecisionCore
import Driver
import Foundation
import IPsecTestKit
import PolicyModel
import Testing

/// The driver's counters are typed, but their JSON keys are a contract (`status --json`, the control
/// protocol, the driver socket, scripts outside the project): these tests pin every key, so that a
/// rename fails here first.
@Suite struct DriverCountersTests {
    /// Every kind of counter, each non-zero.
    static var everything: DriverCounters {
        var decisions = DriverCounters.Decisions()
        decisions.byReason[.permitted] = DriverCounters.Volume(packets: 5, bytes: 500)
        decisions.byReason[.blocked] = DriverCounters.Volume(packets: 2, bytes: 80)
        decisions.byReason[.exemptIKE] = DriverCounters.Volume(packets: 1, bytes: 60)
        decisions.inboundPackets = 3
        decisions.outboundPackets = 5
        decisions.fragments = 1
        decisions.fastPathMarked = 2
        decisions.verdictMessages = 8
        decisions.verdictSendErrors = 1
        decisions.netlinkErrors = 1
        decisions.receiveErrors = 1
        decisions.suppressedEvents = 4
        decisions.byMode = [nil: 1, .secure: 6, .permit: 0, .block: 1]
        let filter = DriverCounters.FilterKey(source: "local", filterID: "{00000000-0000-0000-0000-000000000001}")
        decisions.byFilter[filter] = DriverCounters.FilterVolume(packets: 2, bytes: 80, drops: 2)
        decisions.bySource["local"] = DriverCounters.FilterVolume(packets: 2, bytes: 80, drops: 2)
        var table = DriverCounters.Table()
        table.queueDroppedFull = 1
        table.queueDroppedSocket = 2
        table.queuesBound = 2
        table.epoch = 7
        table.specificFilters = 4
        table.shapes = 2
        table.unresolvedFilters = 1
        table.hostAddresses = 2
        var counters = DriverCounters(decisions: decisions, table: table)
        counters.kernelDrops[DriverCounters.KernelDropKey(mode: "stateful", direction: "inbound")] = 9
        counters.hooksRestored = 1
        counters.loggedKernelDrops = 3
        return counters
    }

    static func json(_ counters: DriverCounters) throws -> [String: UInt64] {
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(counters))
        return try #require(object as? [String: NSNumber]).mapValues(\.uint64Value)
    }

    @Test func everyKeyKeepsItsName() throws {
        let json = try Self.json(Self.everything)
        let filter = "filter.local.{00000000-0000-0000-0000-000000000001}"
        #expect(
            Set(json.keys) == [
                "packets", "bytes", "drops", "packets.inbound", "packets.outbound", "fragments", "fastpath.marked",
                "verdict.messages", "verdict.send-errors", "netlink.errors", "receive.errors", "events.suppressed",
                "decision.permitted.packets", "decision.permitted.bytes", "decision.blocked.packets",
                "decision.blocked.bytes", "decision.exempt-ike.packets", "decision.exempt-ike.bytes", "drops.blocked",
                "action.permit.packets", "action.permit.bytes", "action.block.packets", "action.block.bytes",
                "mode.none.packets", "mode.secure.packets", "mode.block.packets",
                "\(filter).packets", "\(filter).bytes", "\(filter).drops",
                "source.local.packets", "source.local.bytes", "source.local.drops",
                "queue.dropped.full", "queue.dropped.socket", "queues.bound", "table.epoch", "table.specific-filters",
                "table.shapes", "table.unresolved-filters", "host.addresses",
                "drops.mode.stateful.inbound", "hooks.restored", "events.kernel-drops",
            ]
        )
        // The derived totals.
        #expect(json["packets"] == 8 && json["bytes"] == 640 && json["drops"] == 2)
        #expect(json["action.permit.packets"] == 5 && json["action.block.bytes"] == 80)
        #expect(json["drops.blocked"] == 2 && json["drops.mode.stateful.inbound"] == 9)
    }

    @Test func decodesWhatItEncodes() throws {
        let data = try JSONEncoder().encode(Self.everything)
        #expect(try JSONDecoder().decode(DriverCounters.self, from: data) == Self.everything.withoutZeroModes)
        // A newer driver's key is kept and passed on; a source with dots keeps them.
        let newer = DriverCounters(byKey: ["packets": 0, "queue.new-thing": 3, "source.plugin.a.b.drops": 1])
        #expect(newer.other == ["queue.new-thing": 3])
        #expect(newer.decisions?.bySource["plugin.a.b"]?.drops == 1)
        #expect(try Self.json(newer)["queue.new-thing"] == 3)
        // The memory driver's counters: none, as before.
        #expect(try Self.json(DriverCounters()).isEmpty)
    }

    /// The keys the netfilter driver reports before any traffic: today's `status` keys, all of them.
    @Test func theNetfilterDriversStatusKeys() async throws {
        let driver = NetfilterDriver(
            configuration: NetfilterDriverConfiguration(
                hostInfo: StaticHostInfoSource(DecisionFixture.host),
                installsHooks: false
            )
        )
        try await driver.enterStartupMode(.block, exemptions: [])
        let json = try Self.json(await driver.status().counters)
        #expect(
            Set(json.keys) == [
                "packets", "bytes", "drops", "packets.inbound", "packets.outbound", "fragments", "fastpath.marked",
                "verdict.messages", "verdict.send-errors", "netlink.errors", "receive.errors", "events.suppressed",
                "queue.dropped.full", "queue.dropped.socket", "queues.bound", "table.epoch", "table.specific-filters",
                "table.shapes", "table.unresolved-filters", "host.addresses",
            ]
        )
        #expect(json["host.addresses"] == UInt64(DecisionFixture.host.addresses.count))
    }
}

extension DriverCounters {
    /// A mode with no packets is not written (as before the counters were typed), so it reads back absent.
    fileprivate var withoutZeroModes: DriverCounters {
        var copy = self
        if var decisions {
            decisions.byMode = decisions.byMode.filter { $0.value != 0 }
            copy.decisions = decisions
        }
        return copy
    }
}
