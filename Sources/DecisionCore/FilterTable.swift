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
/// filters of a shape have the same weight, so shapes are visited from the heaviest down and the
/// first weight level with a hit decides. Inside a shape an open-addressing hash table maps the
/// masked packet fields to the best filter of that exact key for each direction. A lookup therefore
/// costs one hash probe per shape visited — independent of the number of filters — and policies
/// have few shapes (a handful to a few dozen).
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
    public let hasNegotiate: Bool

    /// Per-shape masks and where its slots are, heaviest shapes first within each connection type's
    /// range (trivial values only, so that a lookup does no reference counting).
    let shapes: [ShapeInfo]
    /// The shapes (positions in ``shapes``) consulted for packets on LAN interfaces.
    let lanShapes: Range<Int>
    /// The shapes consulted for packets on remote access interfaces.
    let remoteAccessShapes: Range<Int>
    /// The hash slots of every shape, concatenated (24 bytes each: key and filters, one cache line).
    let slots: [Slot]
    /// One small bitmap per shape (8 bits per slot) that rules most misses out before a probe
    /// touches the larger slot array: keeps the hot working set small at 100,000 filters.
    let bloom: [UInt64]
    /// Tie-break keys per filter: `[2 * index]` inbound, `[2 * index + 1]` outbound.
    let tieKeys: [UInt64]
    /// Actions per filter, `[2 * index]` inbound, `[2 * index + 1]` outbound: a compact copy of
    /// ``CompiledFilter/inbound`` and ``CompiledFilter/outbound`` for the packet path.
    let actions: [ActionSpec]

    init(generation: UInt64, policy: EffectivePolicy, filters: [CompiledFilter], unresolved: [Int]) {
        self.generation = generation
        self.policy = policy
        self.filters = filters
        self.unresolved = unresolved
        self.hasNegotiate = filters.contains { $0.inbound.kind == .negotiate || $0.outbound.kind == .negotiate }

        var builder = ShapeBuilder(filters: filters)
        let everywhere = filters.allSatisfy { $0.interfaceType == .all }
        if everywhere {
            lanShapes = builder.add(members: filters.indices)
            remoteAccessShapes = lanShapes
        } else {
            lanShapes = builder.add(members: filters.indices.filter { filters[$0].applies(to: .lan) })
            remoteAccessShapes = builder.add(members: filters.indices.filter { filters[$0].applies(to: .remoteAccess) })
        }
        self.shapes = builder.shapes
        self.slots = builder.slots
        self.bloom = builder.bloom
        var tieKeys: [UInt64] = []
        tieKeys.reserveCapacity(filters.count * 2)
        for filter in filters {
            tieKeys.append(filter.tieKey(.inbound))
            tieKeys.append(filter.tieKey(.outbound))
        }
        self.tieKeys = tieKeys
        self.actions = filters.flatMap { [$0.inbound, $0.outbound] }
    }

    /// The action of filter `index` for `direction` (from the compact array).
    @inline(__always)
    public func action(_ index: Int, _ direction: TrafficDirection) -> ActionSpec {
        actions.withUnsafeBufferPointer { $0[index &* 2 &+ (direction == .inbound ? 0 : 1)] }
    }

    /// An empty table: no filters, every packet is permitted.
    public static func empty(generation: UInt64 = 0) -> FilterTable {
        FilterTable(generation: generation, policy: .empty, filters: [], unresolved: [])
    }

    /// Whether LAN and remote access packets consult different shapes (some rule is LAN- or remote
    /// access-only).
    public var isConnectionSpecific: Bool { lanShapes != remoteAccessShapes }

    /// Number of distinct filter shapes of one connection type: the number of hash probes a lookup
    /// costs at most.
    public var shapeCount: Int { max(lanShapes.count, remoteAccessShapes.count) }

    /// The filter that decides a packet travelling in `direction` on an interface of `kind`, or `nil`
    /// when none matches (permit). Returns an index into ``filters``.
    public func lookup(_ key: PacketKey, _ direction: TrafficDirection, on kind: InterfaceKind = .lan) -> Int? {
        let inbound = direction == .inbound
        let tieOffset = inbound ? 0 : 1
        let range = kind == .remoteAccess ? remoteAccessShapes : lanShapes
        return shapes.withUnsafeBufferPointer { all in
            ShapeStorage.with(slots, bloom) { storage in
                tieKeys.withUnsafeBufferPointer { ties -> Int? in
                    var best: Int32 = -1
                    for shape in UnsafeBufferPointer(rebasing: all[range]) {
                        let candidate = shape.find(key, inbound: inbound, storage)
                        if candidate >= 0
                            && (best < 0 || ties[Int(candidate) &* 2 &+ tieOffset] < ties[Int(best) &* 2 &+ tieOffset])
                        {
                            best = candidate
                        }
                        if shape.lastInLevel && best >= 0 { return Int(best) }
                    }
                    return nil
                }
            }
        }
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

/// Builds the concatenated shape, slot and bloom arrays of a table, one range of shapes per
/// connection type.
struct ShapeBuilder {
    let filters: [CompiledFilter]
    var shapes: [ShapeInfo] = []
    var slots: [Slot] = []
    var bloom: [UInt64] = []

    init(filters: [CompiledFilter]) { self.filters = filters }

    /// Adds the shapes of the filters `members`, heaviest first; returns their positions.
    mutating func add(members: some Sequence<Int>) -> Range<Int> {
        let start = shapes.count
        var shapeIndex: [ShapeSignature: Int] = [:]
        var groups: [[Int32]] = []
        var signatures: [ShapeSignature] = []
        for index in members {
            let signature = ShapeSignature(filters[index])
            if let existing = shapeIndex[signature] {
                groups[existing].append(Int32(index))
            } else {
                shapeIndex[signature] = groups.count
                groups.append([Int32(index)])
                signatures.append(signature)
            }
        }
        let order = signatures.indices.sorted { signatures[$0].weightValue > signatures[$1].weightValue }
        for (position, shape) in order.enumerated() {
            let signature = signatures[shape]
            let table = Shape.build(members: groups[shape], filters: filters)
            let bloomBits = table.count * 8
            let lastInLevel =
                position == order.count - 1 || signatures[order[position + 1]].weightValue != signature.weightValue
            shapes.append(
                ShapeInfo(
                    sourceMask: signature.sourceMask,
                    destinationMask: signature.destinationMask,
                    protocolMask: signature.protocolMask,
                    sourcePortMask: signature.sourcePortMask,
                    destinationPortMask: signature.destinationPortMask,
                    lastInLevel: lastInLevel,
                    slotOffset: slots.count,
                    slotMask: table.count - 1,
                    bloomOffset: bloom.count,
                    bloomMask: UInt64(bloomBits - 1)
                )
            )
            var words = [UInt64](repeating: 0, count: max(1, bloomBits / 64))
            for key in table where key.rest != 0 {
                let bit = Int(truncatingIfNeeded: Shape.hash(key.addresses, key.rest) >> 32 & UInt64(bloomBits - 1))
                words[bit >> 6] |= 1 << UInt64(bit & 63)
            }
            bloom += words
            slots += table
        }
        return start..<shapes.count
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

/// The arrays a probe reads, as buffers.
struct ShapeStorage {
    let slots: UnsafeBufferPointer<Slot>
    let bloom: UnsafeBufferPointer<UInt64>

    @inline(__always)
    static func with<R>(_ slots: [Slot], _ bloom: [UInt64], _ body: (ShapeStorage) -> R) -> R {
        slots.withUnsafeBufferPointer { slots in
            bloom.withUnsafeBufferPointer { bloom in body(ShapeStorage(slots: slots, bloom: bloom)) }
        }
    }
}

/// One shape at lookup time: its masks and its part of ``FilterTable/slots``.
struct ShapeInfo {
    let sourceMask: UInt32
    let destinationMask: UInt32
    let protocolMask: UInt8
    let sourcePortMask: UInt16
    let destinationPortMask: UInt16
    /// The next shape has a smaller weight: a hit so far decides.
    let lastInLevel: Bool
    let slotOffset: Int
    let slotMask: Int
    let bloomOffset: Int
    let bloomMask: UInt64

    /// The best filter of this shape for `key`, or -1.
    @inline(__always)
    func find(_ key: PacketKey, inbound: Bool, _ storage: ShapeStorage) -> Int32 {
        let addresses = UInt64(key.source & sourceMask) << 32 | UInt64(key.destination & destinationMask)
        let rest = Shape.pack(
            key.ipProtocol & protocolMask,
            key.sourcePort & sourcePortMask,
            key.destinationPort & destinationPortMask
        )
        let hash = Shape.hash(addresses, rest)
        let bit = Int(truncatingIfNeeded: hash >> 32 & bloomMask)
        if storage.bloom[bloomOffset &+ bit >> 6] & (1 << UInt64(bit & 63)) == 0 { return -1 }
        var slot = Int(truncatingIfNeeded: hash) & slotMask
        while true {
            let entry = storage.slots[slotOffset &+ slot]
            if entry.rest == 0 { return -1 }
            if entry.rest == rest && entry.addresses == addresses {
                return inbound ? entry.inbound : entry.outbound
            }
            slot = (slot &+ 1) & slotMask
        }
    }
}

/// Building a shape's open-addressing (linear probing) hash table.
enum Shape {
    /// The slots (a power of two, at most half full) for the filters `members` of one shape.
    static func build(members: [Int32], filters: [CompiledFilter]) -> [Slot] {
        var capacity = 4
        while capacity < members.count * 2 { capacity <<= 1 }
        let slotMask = capacity - 1
        var slots = [Slot](repeating: Slot(addresses: 0, rest: 0, inbound: -1, outbound: -1), count: capacity)
        for member in members {
            let filter = filters[Int(member)]
            let addresses = UInt64(filter.source) << 32 | UInt64(filter.destination)
            let rest = pack(filter.ipProtocol, filter.sourcePort, filter.destinationPort)
            var slot = Int(truncatingIfNeeded: hash(addresses, rest)) & slotMask
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
        return slots
    }

    @inline(__always)
    static func pack(_ ipProtocol: UInt8, _ sourcePort: UInt16, _ destinationPort: UInt16) -> UInt64 {
        1 << 63 | UInt64(ipProtocol) << 32 | UInt64(sourcePort) << 16 | UInt64(destinationPort)
    }

    @inline(__always)
    static func hash(_ addresses: UInt64, _ rest: UInt64) -> UInt64 {
        // Multiply-xorshift mixing: cheap, and good enough for masked addresses and ports.
        var h = addresses &* 0x9E37_79B9_7F4A_7C15 ^ rest &* 0xC2B2_AE3D_27D4_EB4F
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return h
    }
}
