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

    public init(_ action: FilterAction) {
        self.init(
            kind: action.action,
            inboundPassThrough: action.inboundPassThrough,
            allowFallbackToClear: action.allowFallbackToClear
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

    /// The action for a packet travelling in `direction`.
    public func action(_ direction: TrafficDirection) -> ActionSpec {
        direction == .inbound ? inbound : outbound
    }

    /// Whether the filter selects `key` (the reference semantics the index must reproduce).
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
/// filters of a shape have the same weight, so shapes are visited from the heaviest down and the
/// first weight level with a hit decides. Inside a shape an open-addressing hash table maps the
/// masked packet fields to the best filter of that exact key for each direction. A lookup therefore
/// costs one hash probe per shape visited — independent of the number of filters — and policies
/// have few shapes (a handful to a few dozen).
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
    public let hasNegotiate: Bool

    let shapes: [Shape]
    /// Shape indices grouped by weight, heaviest first.
    let weightLevels: [[Int]]

    init(generation: UInt64, policy: EffectivePolicy, filters: [CompiledFilter], unresolved: [Int]) {
        self.generation = generation
        self.policy = policy
        self.filters = filters
        self.unresolved = unresolved
        self.hasNegotiate = filters.contains { $0.inbound.kind == .negotiate || $0.outbound.kind == .negotiate }

        var shapeIndex: [ShapeSignature: Int] = [:]
        var members: [[Int32]] = []
        var signatures: [ShapeSignature] = []
        for (index, filter) in filters.enumerated() {
            let signature = ShapeSignature(filter)
            if let existing = shapeIndex[signature] {
                members[existing].append(Int32(index))
            } else {
                shapeIndex[signature] = members.count
                members.append([Int32(index)])
                signatures.append(signature)
            }
        }
        var shapes: [Shape] = []
        for (signature, indices) in zip(signatures, members) {
            shapes.append(Shape(signature: signature, members: indices, filters: filters))
        }
        self.shapes = shapes
        let byWeight = Dictionary(grouping: shapes.indices, by: { shapes[$0].weightValue })
        self.weightLevels = byWeight.keys.sorted(by: >).map { byWeight[$0]! }
    }

    /// An empty table: no filters, every packet is permitted.
    public static func empty(generation: UInt64 = 0) -> FilterTable {
        FilterTable(generation: generation, policy: .empty, filters: [], unresolved: [])
    }

    /// Number of distinct filter shapes: the number of hash probes a lookup costs at most.
    public var shapeCount: Int { shapes.count }

    /// The filter that decides a packet travelling in `direction`, or `nil` when none matches
    /// (permit). Returns an index into ``filters``.
    @inline(__always)
    public func lookup(_ key: PacketKey, _ direction: TrafficDirection) -> Int? {
        let inbound = direction == .inbound
        for level in weightLevels {
            var best: Int32 = -1
            for shapeIndex in level {
                let candidate = shapes[shapeIndex].find(key, inbound: inbound)
                if candidate >= 0 {
                    if best < 0 || filters[Int(candidate)].tieKey(direction) < filters[Int(best)].tieKey(direction) {
                        best = candidate
                    }
                }
            }
            if best >= 0 { return Int(best) }
        }
        return nil
    }

    /// The reference classifier: a linear scan over every specific filter. For tests only.
    public func linearLookup(_ key: PacketKey, _ direction: TrafficDirection) -> Int? {
        var best: Int?
        for (index, filter) in filters.enumerated() where filter.matches(key) {
            if let current = best, !filter.precedes(filters[current], direction) { continue }
            best = index
        }
        return best
    }
}

/// The fields a shape masks: equal signatures mean equal weight and one hash table.
struct ShapeSignature: Hashable {
    var sourceMask: UInt32
    var destinationMask: UInt32
    var protocolMask: UInt8
    var sourcePortMask: UInt16
    var destinationPortMask: UInt16
    var weightValue: Int

    init(_ filter: CompiledFilter) {
        sourceMask = filter.sourceMask
        destinationMask = filter.destinationMask
        protocolMask = filter.ipProtocol == 0 ? 0 : 0xFF
        sourcePortMask = filter.sourcePort == 0 ? 0 : 0xFFFF
        destinationPortMask = filter.destinationPort == 0 ? 0 : 0xFFFF
        weightValue = filter.weight.value
    }
}

/// One slot of a shape's hash table: the packed masked key and the best filter per direction.
struct Slot {
    /// Source and destination address.
    var addresses: UInt64
    /// Bit 63 marks a used slot; then protocol and the two ports.
    var rest: UInt64
    var inbound: Int32
    var outbound: Int32
}

/// All specific filters of one signature in an open-addressing (linear probing) hash table.
struct Shape {
    let sourceMask: UInt32
    let destinationMask: UInt32
    let protocolMask: UInt8
    let sourcePortMask: UInt16
    let destinationPortMask: UInt16
    let weightValue: Int
    let slots: [Slot]
    let slotMask: Int

    init(signature: ShapeSignature, members: [Int32], filters: [CompiledFilter]) {
        sourceMask = signature.sourceMask
        destinationMask = signature.destinationMask
        protocolMask = signature.protocolMask
        sourcePortMask = signature.sourcePortMask
        destinationPortMask = signature.destinationPortMask
        weightValue = signature.weightValue
        var capacity = 4
        while capacity < members.count * 2 { capacity <<= 1 }
        slotMask = capacity - 1
        var slots = [Slot](repeating: Slot(addresses: 0, rest: 0, inbound: -1, outbound: -1), count: capacity)
        for member in members {
            let filter = filters[Int(member)]
            let addresses = UInt64(filter.source) << 32 | UInt64(filter.destination)
            let rest = Shape.pack(filter.ipProtocol, filter.sourcePort, filter.destinationPort)
            var slot = Shape.hash(addresses, rest) & slotMask
            while slots[slot].rest != 0 && (slots[slot].addresses != addresses || slots[slot].rest != rest) {
                slot = (slot + 1) & slotMask
            }
            if slots[slot].rest == 0 {
                slots[slot] = Slot(addresses: addresses, rest: rest, inbound: member, outbound: member)
            } else {
                // Same key, same weight: keep the one that wins the tie for each direction.
                let current = slots[slot]
                if filter.tieKey(.inbound) < filters[Int(current.inbound)].tieKey(.inbound) {
                    slots[slot].inbound = member
                }
                if filter.tieKey(.outbound) < filters[Int(current.outbound)].tieKey(.outbound) {
                    slots[slot].outbound = member
                }
            }
        }
        self.slots = slots
    }

    @inline(__always)
    static func pack(_ ipProtocol: UInt8, _ sourcePort: UInt16, _ destinationPort: UInt16) -> UInt64 {
        1 << 63 | UInt64(ipProtocol) << 32 | UInt64(sourcePort) << 16 | UInt64(destinationPort)
    }

    @inline(__always)
    static func hash(_ addresses: UInt64, _ rest: UInt64) -> Int {
        // Multiply-xorshift mixing: cheap, and good enough for masked addresses and ports.
        var h = addresses &* 0x9E37_79B9_7F4A_7C15 ^ rest &* 0xC2B2_AE3D_27D4_EB4F
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return Int(truncatingIfNeeded: h)
    }

    /// The best filter of this shape for `key`, or -1.
    @inline(__always)
    func find(_ key: PacketKey, inbound: Bool) -> Int32 {
        let addresses = UInt64(key.source & sourceMask) << 32 | UInt64(key.destination & destinationMask)
        let rest = Shape.pack(
            key.ipProtocol & protocolMask,
            key.sourcePort & sourcePortMask,
            key.destinationPort & destinationPortMask
        )
        return slots.withUnsafeBufferPointer { table in
            var slot = Shape.hash(addresses, rest) & slotMask
            while true {
                let entry = table[slot]
                if entry.rest == 0 { return -1 }
                if entry.rest == rest && entry.addresses == addresses {
                    return inbound ? entry.inbound : entry.outbound
                }
                slot = (slot + 1) & slotMask
            }
        }
    }
}
