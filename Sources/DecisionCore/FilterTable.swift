public import PolicyModel

/// The action a compiled filter takes in one direction, with the negotiate flags that matter to the
/// driver (`inpass`, `soft`).
public struct ActionSpec: Hashable, Sendable, CustomStringConvertible {
    public var kind: FilterActionKind
    /// Negotiate: accept clear inbound packets (`inpass`).
    public var inboundPassThrough: Bool
    /// Negotiate: allow clear outbound packets (`soft`, fall back to clear).
    public var allowFallbackToClear: Bool

    public init(kind: FilterActionKind, inboundPassThrough: Bool = false, allowFallbackToClear: Bool = false) {
        self.kind = kind
        self.inboundPassThrough = inboundPassThrough
        self.allowFallbackToClear = allowFallbackToClear
    }

    public init(_ action: borrowing FilterAction) {
        self.init(
            kind: action.action,
            inboundPassThrough: action.inboundPassThrough,
            allowFallbackToClear: action.allowFallbackToClear
        )
    }

    public init(_ fields: ActionFields) {
        self.init(
            kind: fields.kind,
            inboundPassThrough: fields.inboundPassThrough,
            allowFallbackToClear: fields.allowFallbackToClear
        )
    }

    public var description: String {
        var text = kind.rawValue
        if inboundPassThrough { text += "+inpass" }
        if allowFallbackToClear { text += "+soft" }
        return text
    }
}

/// One specific filter: a configured filter with `me` and special servers resolved to addresses,
/// in one direction of a mirrored pair.
public struct CompiledFilter: Hashable, Sendable {
    /// Source address, already masked.
    public var source: UInt32
    public var sourceMask: UInt32
    /// Destination address, already masked.
    public var destination: UInt32
    public var destinationMask: UInt32
    /// 0 = any.
    public var ipProtocol: UInt8
    /// 0 = any (always 0 unless the protocol is TCP, UDP or any).
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// The weight of the configured filter (mirroring and resolution do not change it).
    public var weight: FilterWeight
    public var inbound: ActionSpec
    public var outbound: ActionSpec
    /// Index of the configured filter in ``EffectivePolicy/filters``.
    public var policyIndex: Int
    /// Whether this is the reverse copy of a mirrored filter.
    public var isMirror: Bool
    /// The connection type of the filter's rule: the interfaces whose packets it selects.
    public var interfaceType: InterfaceType

    /// The action for a packet travelling in `direction`.
    public func action(_ direction: TrafficDirection) -> ActionSpec {
        direction == .inbound ? inbound : outbound
    }

    /// Whether the filter's rule applies to packets on an interface of `kind` (its connection type).
    public func applies(to kind: InterfaceKind) -> Bool { kind.isSelected(by: interfaceType) }

    /// Whether the filter selects `key`, whatever the interface (the reference semantics the index
    /// must reproduce).
    public func matches(_ key: PacketKey) -> Bool {
        key.source & sourceMask == source && key.destination & destinationMask == destination
            && (ipProtocol == 0 || ipProtocol == key.ipProtocol)
            && (sourcePort == 0 || sourcePort == key.sourcePort)
            && (destinationPort == 0 || destinationPort == key.destinationPort)
    }

    /// Merge order tie-break: the configured filter's position, its forward copy first.
    var mergeOrder: UInt64 { UInt64(policyIndex) << 1 | (isMirror ? 1 : 0) }

    /// The key that orders filters of equal weight for packets in `direction` (smaller wins):
    /// block, permit, negotiate, then merge order.
    func tieKey(_ direction: TrafficDirection) -> UInt64 {
        UInt64(ActionPrecedence.rank(action(direction).kind)) << 48 | mergeOrder
    }

    /// Whether `self` is consulted before `other` for packets in `direction`.
    func precedes(_ other: CompiledFilter, _ direction: TrafficDirection) -> Bool {
        if weight.value != other.weight.value { return weight.value > other.weight.value }
        return tieKey(direction) < other.tieKey(direction)
    }
}

/// An immutable, compiled filter table: what the classifier consults for one policy generation and
/// one view of the host's addresses.
///
/// Lookup is a tuple-space search rather than a scan: the specific filters are grouped by their
/// *shape* (source mask, destination mask, and whether protocol and each port are specific). All
/// filters of a shape have the same weight. Inside a shape an open-addressing hash table maps the
/// masked packet fields to the best filter of that exact key for each direction, behind a small
/// bloom bitmap. A policy with few shapes (``ShapeSet/scanLimit``) is scanned from the heaviest
/// shape down, the first weight level with a hit deciding. A policy collected over years has
/// hundreds to thousands of shapes (every prefix length on both sides, ports, protocols): its
/// shapes are pruned per packet by the prefix lengths that cover the packet's two addresses and
/// by a table of the (prefix length pair, masked addresses) that filters have, visited by
/// decreasing weight (``PairIndex``), so that a lookup probes a handful of shapes whatever the
/// number of filters or shapes.
///
/// Connection types: a rule applies only to packets on interfaces of its type, so the table holds
/// one set of shapes for LAN interfaces (rules of type All and LAN) and one for remote access
/// interfaces (All and Remote access). Both are the same shapes when no rule is LAN- or remote
/// access-only, which is the common case.
public final class FilterTable: Sendable {
    /// Generation of the effective policy this table was compiled from.
    public let generation: UInt64
    /// The policy it was compiled from (for provenance in counters and drop events).
    public let policy: EffectivePolicy
    /// Every specific filter, in compile order (``CompiledFilter/policyIndex`` links back).
    public let filters: [CompiledFilter]
    /// Configured filters that resolved to no address (e.g. `me` with no IPv4 address, WINS servers):
    /// indices into ``EffectivePolicy/filters``. They match nothing.
    public let unresolved: [Int]
    /// Whether any filter negotiates: flows under a negotiate filter never take the fast path.
    public var hasNegotiate: Bool { parts.hasNegotiate }

    /// Shapes, hash slots, indexes, tie keys and actions: everything derived from ``filters``
    /// (``TableParts``), held whole so that a patched table takes them over without copying field by
    /// field.
    let parts: TableParts
    /// Whether this table was patched from the previous one (an incremental compile) rather than
    /// built: for tests, counters and benchmarks.
    public let isPatched: Bool

    /// The table of `filters`. With `previous`, a table compiled from filters of the same geometry
    /// (every field but the actions, in the same order) is patched instead of built: its shapes,
    /// slots and indexes are shared, only the actions, tie keys and the slots of changed filters
    /// whose key another filter shares are new (``TableParts/init(patching:with:)``). The result is
    /// the table a full build gives.
    init(
        generation: UInt64,
        policy: EffectivePolicy,
        filters: [CompiledFilter],
        unresolved: [Int],
        previous: FilterTable? = nil
    ) {
        self.generation = generation
        self.policy = policy
        self.filters = filters
        self.unresolved = unresolved
        let patched = previous.flatMap { TableParts(patching: $0, with: filters) }
        isPatched = patched != nil
        parts = patched ?? TableParts(building: filters)
    }

    /// The action of filter `index` for `direction` (from the compact array).
    @inline(__always)
    public func action(_ index: Int, _ direction: TrafficDirection) -> ActionSpec {
        parts.actions.withUnsafeBufferPointer { $0[index &* 2 &+ (direction == .inbound ? 0 : 1)] }
    }

    /// An empty table: no filters, every packet is permitted.
    public static func empty(generation: UInt64 = 0) -> FilterTable {
        FilterTable(generation: generation, policy: .empty, filters: [], unresolved: [])
    }

    /// Whether LAN and remote access packets consult different shapes (some rule is LAN- or remote
    /// access-only).
    public var isConnectionSpecific: Bool { parts.lanShapes.shapes != parts.remoteAccessShapes.shapes }

    /// Number of distinct filter shapes of one connection type: the number of hash probes a lookup
    /// costs at most.
    public var shapeCount: Int { max(parts.lanShapes.count, parts.remoteAccessShapes.count) }

    /// The filter that decides a packet travelling in `direction` on an interface of `kind`, or `nil`
    /// when none matches (permit). Returns an index into ``filters``.
    public func lookup(_ key: PacketKey, _ direction: TrafficDirection, on kind: InterfaceKind = .lan) -> Int? {
        let set = kind == .remoteAccess ? parts.remoteAccessShapes : parts.lanShapes
        let inbound = direction == .inbound
        let found = parts.shapes.withUnsafeBufferPointer { shapes in
            parts.slots.withUnsafeBufferPointer { slots in
                parts.bloom.withUnsafeBufferPointer { bloom in
                    parts.tieKeys.withUnsafeBufferPointer { ties in
                        let probe = Probe(
                            key: key,
                            inbound: inbound,
                            shapes: shapes,
                            storage: ShapeStorage(slots: slots, bloom: bloom),
                            ties: ties
                        )
                        if let index = set.index { return probe.pruned(index) }
                        return probe.scan(set.shapes)
                    }
                }
            }
        }
        return found < 0 ? nil : Int(found)
    }

    /// The reference classifier: a linear scan over every specific filter. For tests only.
    public func linearLookup(_ key: PacketKey, _ direction: TrafficDirection, on kind: InterfaceKind = .lan) -> Int? {
        candidates(key, direction).first { filters[$0].applies(to: kind) }
    }

    /// Every specific filter that selects `key`, whatever its connection type, in the order the
    /// classifier consults them for `direction` (weight, then block, permit, negotiate, then merge
    /// order): what `explain` lists. A linear scan; not for the packet path.
    public func candidates(_ key: PacketKey, _ direction: TrafficDirection) -> [Int] {
        // Ties the classifier cannot tell apart (one configured filter resolved to several addresses)
        // keep compile order, as the index does.
        filters.indices.filter { filters[$0].matches(key) }.sorted { first, second in
            filters[first].precedes(filters[second], direction)
                || (!filters[second].precedes(filters[first], direction) && first < second)
        }
    }
}
