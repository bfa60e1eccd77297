public import DecisionCore
public import PolicyModel

/// The driver's counters, typed. They encode to (and decode from) one flat JSON object whose key names
/// are a contract: `status --json`, the control protocol and the driver socket carry them, and scripts
/// outside the project read them (docs/driver.md, "Diagnostics and statistics"). The keys:
///
/// - `packets`, `bytes`, `drops`, `packets.inbound`, `packets.outbound`, `fragments`, `fastpath.marked`,
///   `verdict.messages`, `verdict.send-errors`, `netlink.errors`, `receive.errors`, `events.suppressed`
///   (a driver that decides packets: always);
/// - `decision.<reason>.packets|bytes`, `drops.<reason>` (a reason that drops), `action.<action>.packets|bytes`,
///   `mode.<none|secure|permit|block>.packets`, `filter.<source>.<filter id>.packets|bytes|drops`,
///   `source.<source>.packets|bytes|drops` (each when not zero);
/// - `queue.dropped.full`, `queue.dropped.socket`, `queues.bound`, `table.epoch`, `table.specific-filters`,
///   `table.shapes`, `table.unresolved-filters`, `host.addresses` (the netfilter driver: always);
/// - `drops.mode.<mode>.<direction>`, `hooks.restored`, `events.kernel-drops` (when not zero).
///
/// Keys this version does not know (a newer driver process) are kept in ``other`` and encoded again.
public struct DriverCounters: Hashable, Sendable {
    /// Packets and bytes.
    public struct Volume: Hashable, Sendable {
        public var packets: UInt64
        public var bytes: UInt64

        public init(packets: UInt64 = 0, bytes: UInt64 = 0) {
            self.packets = packets
            self.bytes = bytes
        }
    }

    /// Packets, bytes and the packets dropped, of one filter or one source.
    public struct FilterVolume: Hashable, Sendable {
        public var packets: UInt64
        public var bytes: UInt64
        public var drops: UInt64

        public init(packets: UInt64 = 0, bytes: UInt64 = 0, drops: UInt64 = 0) {
            self.packets = packets
            self.bytes = bytes
            self.drops = drops
        }
    }

    /// One filter, by the source it came from and its identifier.
    public struct FilterKey: Hashable, Sendable {
        public var source: String
        public var filterID: String

        public init(source: String, filterID: String) {
            self.source = source
            self.filterID = filterID
        }
    }

    /// The final drop rule of a kernel-only mode, in one direction.
    public struct KernelDropKey: Hashable, Sendable {
        /// `stateful`, `block`, ... (``HookState/kernelDropMode``).
        public var mode: String
        /// `inbound` or `outbound`.
        public var direction: String

        public init(mode: String, direction: String) {
            self.mode = mode
            self.direction = direction
        }
    }

    /// What the queue readers decided.
    public struct Decisions: Hashable, Sendable {
        /// Per reason (only reasons that occurred).
        public var byReason: [DecisionReason: Volume] = [:]
        public var inboundPackets: UInt64 = 0
        public var outboundPackets: UInt64 = 0
        public var fragments: UInt64 = 0
        public var fastPathMarked: UInt64 = 0
        public var verdictMessages: UInt64 = 0
        public var verdictSendErrors: UInt64 = 0
        public var netlinkErrors: UInt64 = 0
        public var receiveErrors: UInt64 = 0
        /// Drop events not logged because of the events-per-second limit.
        public var suppressedEvents: UInt64 = 0
        /// Packets decided per operational mode (`nil`: before one was entered).
        public var byMode: [OperationalMode?: UInt64] = [:]
        public var byFilter: [FilterKey: FilterVolume] = [:]
        public var bySource: [String: FilterVolume] = [:]

        public init() {}

        /// Every packet decided.
        public var packets: UInt64 { byReason.values.reduce(0) { $0 &+ $1.packets } }
        public var bytes: UInt64 { byReason.values.reduce(0) { $0 &+ $1.bytes } }
        /// Every packet dropped.
        public var drops: UInt64 { byReason.filter { !$0.key.accepts }.values.reduce(0) { $0 &+ $1.packets } }
        /// The packets dropped for `reason` (0 for a reason that accepts).
        public func drops(_ reason: DecisionReason) -> UInt64 { reason.accepts ? 0 : byReason[reason]?.packets ?? 0 }
        /// Per filter action, from the reasons.
        public var byAction: [FilterActionKind: Volume] {
            var result: [FilterActionKind: Volume] = [:]
            for (reason, volume) in byReason {
                guard let action = reason.action else { continue }
                result[action, default: Volume()].packets &+= volume.packets
                result[action, default: Volume()].bytes &+= volume.bytes
            }
            return result
        }
    }

    /// The netfilter driver's table, queues and host.
    public struct Table: Hashable, Sendable {
        /// Packets the kernel dropped because the queue was full / the socket buffer was.
        public var queueDroppedFull: UInt64 = 0
        public var queueDroppedSocket: UInt64 = 0
        public var queuesBound: UInt64 = 0
        /// The fast-path epoch of the context in force.
        public var epoch: UInt64 = 0
        public var specificFilters: UInt64 = 0
        public var shapes: UInt64 = 0
        public var unresolvedFilters: UInt64 = 0
        public var hostAddresses: UInt64 = 0

        public init() {}
    }

    /// `nil`: this driver decides no packets (the memory driver, a driver that does not answer).
    public var decisions: Decisions?
    /// `nil`: not the netfilter driver.
    public var table: Table?
    /// What the final drop rules of the kernel-only modes counted.
    public var kernelDrops: [KernelDropKey: UInt64] = [:]
    /// Times another program's change of the kernel rules was undone.
    public var hooksRestored: UInt64 = 0
    /// Drops the kernel-only modes logged (NFLOG).
    public var loggedKernelDrops: UInt64 = 0
    /// Keys this version does not know, as received.
    public var other: [String: UInt64] = [:]

    public init(decisions: Decisions? = nil, table: Table? = nil) {
        self.decisions = decisions
        self.table = table
    }

    /// The packets the kernel dropped at the queue (full queue or socket).
    public var queueDrops: UInt64 { (table?.queueDroppedFull ?? 0) &+ (table?.queueDroppedSocket ?? 0) }
}

extension DriverCounters {
    static let modeNames: [(OperationalMode?, String)] = [
        (nil, "none"), (.secure, "secure"), (.permit, "permit"), (.block, "block"),
    ]

    /// The names of the counters a driver that decides packets always reports.
    static var decisionKeys: [(String, WritableKeyPath<Decisions, UInt64>)] {
        [
            ("packets.inbound", \.inboundPackets), ("packets.outbound", \.outboundPackets), ("fragments", \.fragments),
            ("fastpath.marked", \.fastPathMarked), ("verdict.messages", \.verdictMessages),
            ("verdict.send-errors", \.verdictSendErrors), ("netlink.errors", \.netlinkErrors),
            ("receive.errors", \.receiveErrors), ("events.suppressed", \.suppressedEvents),
        ]
    }

    /// The names of the netfilter driver's table, queue and host counters.
    static var tableKeys: [(String, WritableKeyPath<Table, UInt64>)] {
        [
            ("queue.dropped.full", \.queueDroppedFull), ("queue.dropped.socket", \.queueDroppedSocket),
            ("queues.bound", \.queuesBound), ("table.epoch", \.epoch), ("table.specific-filters", \.specificFilters),
            ("table.shapes", \.shapes), ("table.unresolved-filters", \.unresolvedFilters),
            ("host.addresses", \.hostAddresses),
        ]
    }

    /// The counters under their contract names (what the JSON holds).
    public var byKey: [String: UInt64] {
        var result = other
        if let decisions {
            result["packets"] = decisions.packets
            result["bytes"] = decisions.bytes
            result["drops"] = decisions.drops
            for (name, path) in Self.decisionKeys { result[name] = decisions[keyPath: path] }
            for (reason, volume) in decisions.byReason where volume.packets != 0 {
                result["decision.\(reason).packets"] = volume.packets
                result["decision.\(reason).bytes"] = volume.bytes
                if !reason.accepts { result["drops.\(reason)"] = volume.packets }
            }
            for (action, volume) in decisions.byAction where volume.packets != 0 {
                result["action.\(action.rawValue).packets"] = volume.packets
                result["action.\(action.rawValue).bytes"] = volume.bytes
            }
            for (mode, name) in Self.modeNames {
                if let count = decisions.byMode[mode], count != 0 { result["mode.\(name).packets"] = count }
            }
            for (key, volume) in decisions.byFilter {
                let name = "filter.\(key.source).\(key.filterID)"
                result["\(name).packets"] = volume.packets
                result["\(name).bytes"] = volume.bytes
                result["\(name).drops"] = volume.drops
            }
            for (source, volume) in decisions.bySource {
                result["source.\(source).packets"] = volume.packets
                result["source.\(source).bytes"] = volume.bytes
                result["source.\(source).drops"] = volume.drops
            }
        }
        if let table {
            for (name, path) in Self.tableKeys { result[name] = table[keyPath: path] }
        }
        for (key, value) in kernelDrops where value != 0 {
            result["drops.mode.\(key.mode).\(key.direction)"] = value
        }
        if hooksRestored != 0 { result["hooks.restored"] = hooksRestored }
        if loggedKernelDrops != 0 { result["events.kernel-drops"] = loggedKernelDrops }
        return result
    }

    /// Reads counters from their contract names (``byKey``). Derived keys (`packets`, `drops`,
    /// `action.*`, `drops.<reason>`) are recomputed from the reasons; unknown ones go to ``other``.
    public init(byKey values: [String: UInt64]) {
        self.init()
        let reasons = Dictionary(uniqueKeysWithValues: DecisionReason.allCases.map { ($0.description, $0) })
        let actions = Set(FilterActionKind.allCases.map(\.rawValue))
        let modes = Dictionary(uniqueKeysWithValues: Self.modeNames.map { ($0.1, $0.0) })
        var decisions = Decisions()
        var table = Table()
        let decisionKeys = Dictionary(uniqueKeysWithValues: Self.decisionKeys)
        let tableKeys = Dictionary(uniqueKeysWithValues: Self.tableKeys)
        var decides = false
        var hasTable = false
        for (key, value) in values {
            if let path = decisionKeys[key] {
                decisions[keyPath: path] = value
                decides = true
                continue
            }
            if let path = tableKeys[key] {
                table[keyPath: path] = value
                hasTable = true
                continue
            }
            let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            switch (parts.first, parts.count) {
            case ("packets", 1), ("bytes", 1), ("drops", 1): decides = true
            case ("events", 2) where parts[1] == "kernel-drops": loggedKernelDrops = value
            case ("hooks", 2) where parts[1] == "restored": hooksRestored = value
            case ("decision", 3) where reasons[parts[1]] != nil && parts[2] == "packets":
                decisions.byReason[reasons[parts[1]]!, default: Volume()].packets = value
            case ("decision", 3) where reasons[parts[1]] != nil && parts[2] == "bytes":
                decisions.byReason[reasons[parts[1]]!, default: Volume()].bytes = value
            case ("drops", 2) where reasons[parts[1]] != nil: break  // from decision.<reason>.packets
            case ("action", 3) where actions.contains(parts[1]) && ["packets", "bytes"].contains(parts[2]): break
            case ("drops", 4) where parts[1] == "mode":
                kernelDrops[KernelDropKey(mode: parts[2], direction: parts[3])] = value
            case ("mode", 3) where modes[parts[1]] != nil && parts[2] == "packets":
                decisions.byMode[modes[parts[1]]!] = value
            case ("filter", 4...) where ["packets", "bytes", "drops"].contains(parts[parts.count - 1]):
                // The source may hold dots; the filter's identifier does not.
                let filter = FilterKey(
                    source: parts[1..<(parts.count - 2)].joined(separator: "."),
                    filterID: parts[parts.count - 2]
                )
                decisions.byFilter[filter, default: FilterVolume()].set(parts[parts.count - 1], value)
            case ("source", 3...) where ["packets", "bytes", "drops"].contains(parts[parts.count - 1]):
                let source = parts[1..<(parts.count - 1)].joined(separator: ".")
                decisions.bySource[source, default: FilterVolume()].set(parts[parts.count - 1], value)
            default: other[key] = value
            }
        }
        if decides || !decisions.byReason.isEmpty { self.decisions = decisions }
        if hasTable { self.table = table }
    }
}

extension DriverCounters.FilterVolume {
    fileprivate mutating func set(_ name: String, _ value: UInt64) {
        switch name {
        case "packets": packets = value
        case "bytes": bytes = value
        default: drops = value
        }
    }
}

extension DriverCounters: Codable {
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        var values: [String: UInt64] = [:]
        for key in container.allKeys { values[key.stringValue] = try container.decode(UInt64.self, forKey: key) }
        self.init(byKey: values)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (key, value) in byKey.sorted(by: { $0.key < $1.key }) {
            try container.encode(value, forKey: Key(stringValue: key))
        }
    }
}
