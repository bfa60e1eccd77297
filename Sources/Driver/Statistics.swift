import DecisionCore
import IPsecSystem
import PolicyModel
import Synchronization

/// Counters of one reader thread between two merges: plain integers owned by that thread.
struct ReaderCounters: Sendable {
    var reasonPackets = [UInt64](repeating: 0, count: DecisionReason.allCases.count)
    var reasonBytes = [UInt64](repeating: 0, count: DecisionReason.allCases.count)
    var inboundPackets: UInt64 = 0
    var outboundPackets: UInt64 = 0
    var fragments: UInt64 = 0
    var fastPathMarked: UInt64 = 0
    var verdictMessages: UInt64 = 0
    var sendErrors: UInt64 = 0
    var netlinkErrors: UInt64 = 0
    var receiveErrors: UInt64 = 0
    var suppressedEvents: UInt64 = 0

    mutating func add(_ other: ReaderCounters) {
        for index in reasonPackets.indices {
            reasonPackets[index] &+= other.reasonPackets[index]
            reasonBytes[index] &+= other.reasonBytes[index]
        }
        inboundPackets &+= other.inboundPackets
        outboundPackets &+= other.outboundPackets
        fragments &+= other.fragments
        fastPathMarked &+= other.fastPathMarked
        verdictMessages &+= other.verdictMessages
        sendErrors &+= other.sendErrors
        netlinkErrors &+= other.netlinkErrors
        receiveErrors &+= other.receiveErrors
        suppressedEvents &+= other.suppressedEvents
    }

    var isZero: Bool { reasonPackets.allSatisfy { $0 == 0 } && verdictMessages == 0 && receiveErrors == 0 }
}

/// Per-filter counters of one table (indexed like ``FilterTable/filters``): packets, bytes, drops.
final class TableCounters: Sendable {
    struct Values {
        var packets: [UInt64]
        var bytes: [UInt64]
        var drops: [UInt64]
    }

    let values: Mutex<Values>

    init(count: Int) {
        values = Mutex(
            Values(
                packets: [UInt64](repeating: 0, count: count),
                bytes: [UInt64](repeating: 0, count: count),
                drops: [UInt64](repeating: 0, count: count)
            )
        )
    }
}

/// Per-filter counters with the filter's identity, kept across table generations.
struct FilterCounterKey: Hashable, Sendable {
    var source: String
    var filterID: String
    var ruleName: String
}

/// The driver's statistics: merged reader counters plus per-filter counters folded over tables.
final class DriverStatistics: Sendable {
    struct State {
        var totals = ReaderCounters()
        var perFilter: [FilterCounterKey: (packets: UInt64, bytes: UInt64, drops: UInt64)] = [:]
        /// Packets decided per operational mode: none (before one was entered), secure, permit, block.
        var perMode: [UInt64] = [0, 0, 0, 0]
    }

    static let modes: [OperationalMode?] = [nil, .secure, .permit, .block]

    static func modeIndex(_ mode: OperationalMode?) -> Int {
        switch mode {
        case nil: 0
        case .secure: 1
        case .permit: 2
        case .block: 3
        }
    }

    let state = Mutex(State())

    /// Adds one reader burst (called by reader threads, once per burst).
    func merge(_ counters: ReaderCounters, mode: OperationalMode?) {
        let packets = counters.reasonPackets.reduce(0, &+)
        let index = Self.modeIndex(mode)
        state.withLock {
            $0.totals.add(counters)
            $0.perMode[index] &+= packets
        }
    }

    /// Folds the per-filter counters of a table that is being replaced into the running totals.
    func fold(_ table: FilterTable, _ counters: TableCounters) {
        let values = counters.values.withLock { $0 }
        var folded: [FilterCounterKey: (UInt64, UInt64, UInt64)] = [:]
        for index in values.packets.indices where values.packets[index] != 0 {
            let key = Self.key(table, index)
            let current = folded[key] ?? (0, 0, 0)
            folded[key] = (
                current.0 &+ values.packets[index], current.1 &+ values.bytes[index], current.2 &+ values.drops[index]
            )
        }
        guard !folded.isEmpty else { return }
        state.withLock { state in
            for (key, value) in folded {
                let current = state.perFilter[key] ?? (0, 0, 0)
                state.perFilter[key] = (current.0 &+ value.0, current.1 &+ value.1, current.2 &+ value.2)
            }
        }
    }

    static func key(_ table: FilterTable, _ index: Int) -> FilterCounterKey {
        let effective = table.policy.filters[table.filters[index].policyIndex]
        return FilterCounterKey(
            source: effective.provenance.source,
            filterID: effective.filter.id.description,
            ruleName: effective.provenance.ruleName
        )
    }

    /// The counters as `status` shows them, the current table's per-filter counters included.
    func snapshot(current table: FilterTable, _ counters: TableCounters) -> DriverCounters.Decisions {
        var perFilter = state.withLock { $0.perFilter }
        let totals = state.withLock { $0.totals }
        let perMode = state.withLock { $0.perMode }
        let values = counters.values.withLock { $0 }
        for index in values.packets.indices where values.packets[index] != 0 {
            let key = Self.key(table, index)
            let current = perFilter[key] ?? (0, 0, 0)
            perFilter[key] = (
                current.0 &+ values.packets[index], current.1 &+ values.bytes[index], current.2 &+ values.drops[index]
            )
        }
        var result = DriverCounters.Decisions()
        for reason in DecisionReason.allCases where totals.reasonPackets[reason.rawValue] != 0 {
            result.byReason[reason] = DriverCounters.Volume(
                packets: totals.reasonPackets[reason.rawValue],
                bytes: totals.reasonBytes[reason.rawValue]
            )
        }
        result.inboundPackets = totals.inboundPackets
        result.outboundPackets = totals.outboundPackets
        result.fragments = totals.fragments
        result.fastPathMarked = totals.fastPathMarked
        result.verdictMessages = totals.verdictMessages
        result.verdictSendErrors = totals.sendErrors
        result.netlinkErrors = totals.netlinkErrors
        result.receiveErrors = totals.receiveErrors
        result.suppressedEvents = totals.suppressedEvents
        for (index, count) in perMode.enumerated() where count != 0 {
            result.byMode[Self.modes[index]] = count
        }
        for (key, value) in perFilter {
            let volume = DriverCounters.FilterVolume(packets: value.packets, bytes: value.bytes, drops: value.drops)
            result.byFilter[DriverCounters.FilterKey(source: key.source, filterID: key.filterID)] = volume
            result.bySource[key.source, default: DriverCounters.FilterVolume()].packets &+= value.packets
            result.bySource[key.source, default: DriverCounters.FilterVolume()].bytes &+= value.bytes
            result.bySource[key.source, default: DriverCounters.FilterVolume()].drops &+= value.drops
        }
        return result
    }
}

/// Kernel queue counters from `/proc/net/netfilter/nfnetlink_queue`: drops because the queue was
/// full (`queue_dropped`) and because the socket buffer was (`user_dropped`, ENOBUFS suppressed).
public func readQueueDrops(queues: [UInt16], procText: String? = nil) -> (queueFull: UInt64, socketFull: UInt64) {
    // One short line per bound queue (at most 65536 queues).
    let text =
        procText ?? (try? FileSystem.readTextIfPresent("/proc/net/netfilter/nfnetlink_queue", limit: 8 << 20)) ?? ""
    var full: UInt64 = 0
    var socket: UInt64 = 0
    let wanted = Set(queues.map { UInt64($0) })
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true).compactMap { UInt64($0) }
        guard fields.count >= 7, wanted.contains(fields[0]) else { continue }
        full &+= fields[5]
        socket &+= fields[6]
    }
    return (full, socket)
}
