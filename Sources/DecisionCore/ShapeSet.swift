import PolicyModel

/// The shapes one connection type consults, and how a lookup picks the few it probes.
///
/// A small set (``scanLimit`` shapes or fewer, the usual hand-written policy) is scanned from the
/// heaviest shape down, stopping at the first weight level with a hit. A larger set gets a
/// ``PairIndex``: the packet's source and destination addresses each give the prefix lengths that
/// some filter covers them with (``PrefixCover``), and only shapes with both lengths among those are
/// probed, by decreasing sum of the two lengths (the weight's major part), stopping at the first sum
/// with a hit. A policy with hundreds of shapes then costs a handful of probes per packet.
struct ShapeSet {
    /// Positions in ``FilterTable``'s shape array, heaviest first.
    let shapes: Range<Int>
    let index: PairIndex?

    /// Shape sets with more shapes than this get a ``PairIndex``.
    static let scanLimit = 16

    var count: Int { shapes.count }
}

/// The per-packet shape pruning of a large shape set (see ``ShapeSet``).
final class PairIndex: Sendable {
    let sources: PrefixCover
    let destinations: PrefixCover
    /// Per source prefix length `s` (0…32): bit `d` is set when the pair (s, d) has shapes.
    let pairsOf: [UInt64]
    /// Per sum `σ` of the two lengths (0…64): bit `s` is set when the pair (s, σ − s) has shapes.
    let sums: [UInt64]
    /// Per pair `s * 33 + d`: where its shapes start in ``pairShapes`` (one more entry at the end).
    let pairStart: [UInt32]
    /// Shape positions (in ``FilterTable``'s shape array), grouped by pair.
    let pairShapes: [Int32]
    /// Shapes the pairs cannot index (a mask that is not a prefix): always probed.
    let residual: [Int32]

    /// Which shapes of a pair hold a filter with exactly a packet's masked addresses: one hash table
    /// over (pair, masked source, masked destination) for the whole set, with a bloom bitmap in
    /// front. A pair whose addresses no filter has costs one bloom test; otherwise only the shapes
    /// that hold the addresses are probed.
    let pairSlots: [PairSlot]
    let pairSlotMask: Int
    let pairBloom: [UInt64]
    let pairBloomMask: UInt64

    init(shapes: [ShapeInfo], range: Range<Int>, members: [[Int32]], filters: [CompiledFilter]) {
        var sourcePrefixes: [(value: UInt32, length: Int)] = []
        var destinationPrefixes: [(value: UInt32, length: Int)] = []
        var byPair = [[Int32]](repeating: [], count: 33 * 33)
        var residual: [Int32] = []
        var pairsOf = [UInt64](repeating: 0, count: 33)
        var sums = [UInt64](repeating: 0, count: 65)
        // (pair, variant within the pair) of each indexable shape, by offset in `range`.
        var placement = [(pair: Int, variant: Int)?](repeating: nil, count: range.count)
        for (offset, position) in range.enumerated() {
            let shape = shapes[position]
            guard let s = Self.prefixLength(shape.sourceMask), let d = Self.prefixLength(shape.destinationMask),
                Int(shape.weight) >> 3 == s + d
            else {
                residual.append(Int32(position))
                continue
            }
            placement[offset] = (s * 33 + d, byPair[s * 33 + d].count)
            byPair[s * 33 + d].append(Int32(position))
            pairsOf[s] |= 1 << UInt64(d)
            sums[s + d] |= 1 << UInt64(s)
        }
        var keyCount = 0
        for (offset, members) in members.enumerated() where placement[offset] != nil { keyCount += members.count }
        var capacity = 4
        while capacity < keyCount * 2 { capacity <<= 1 }
        var slots = [PairSlot](repeating: .empty, count: capacity)
        var bloom = [UInt64](repeating: 0, count: max(1, capacity * 8 / 64))
        let bloomMask = UInt64(capacity * 8 - 1)
        for (offset, members) in members.enumerated() {
            guard let (pair, variant) = placement[offset] else { continue }
            let s = pair / 33
            let d = pair % 33
            for member in members {
                let filter = filters[Int(member)]
                let addresses = UInt64(filter.source) << 32 | UInt64(filter.destination)
                let tag = UInt32(pair) | PairSlot.used
                let hash = ShapeHash.hash(addresses, UInt64(tag))
                var slot = Int(truncatingIfNeeded: hash) & (capacity - 1)
                while slots[slot].tag != 0 && (slots[slot].tag != tag || slots[slot].addresses != addresses) {
                    slot = (slot + 1) & (capacity - 1)
                }
                let rest = ShapeHash.pack(filter.ipProtocol, filter.sourcePort, filter.destinationPort)
                if slots[slot].tag == 0 {
                    slots[slot] = PairSlot(
                        addresses: addresses,
                        tag: tag,
                        single: Int32(variant),
                        variants: 0,
                        rest: rest,
                        inbound: member,
                        outbound: member
                    )
                    let bit = Int(truncatingIfNeeded: hash >> 32 & bloomMask)
                    bloom[bit >> 6] |= 1 << UInt64(bit & 63)
                    sourcePrefixes.append((filter.source, s))
                    destinationPrefixes.append((filter.destination, d))
                } else if slots[slot].single == Int32(variant) && slots[slot].rest == rest {
                    // Same shape and key: keep the filter that wins the tie for each direction.
                    let current = slots[slot]
                    if filter.tieKey(.inbound) < filters[Int(current.inbound)].tieKey(.inbound) {
                        slots[slot].inbound = member
                    }
                    if filter.tieKey(.outbound) < filters[Int(current.outbound)].tieKey(.outbound) {
                        slots[slot].outbound = member
                    }
                } else {
                    slots[slot].single = -1
                }
                slots[slot].variants |= 1 << UInt64(variant)
            }
        }
        pairSlots = slots
        pairSlotMask = capacity - 1
        pairBloom = bloom
        pairBloomMask = bloomMask
        sources = PrefixCover(prefixes: sourcePrefixes)
        destinations = PrefixCover(prefixes: destinationPrefixes)
        self.pairsOf = pairsOf
        self.sums = sums
        var pairStart: [UInt32] = [0]
        var pairShapes: [Int32] = []
        pairStart.reserveCapacity(33 * 33 + 1)
        for pair in byPair {
            pairShapes += pair
            pairStart.append(UInt32(pairShapes.count))
        }
        self.pairStart = pairStart
        self.pairShapes = pairShapes
        self.residual = residual
    }

    /// The slot of `pair` with exactly `addresses` (masked source << 32 | masked destination), or
    /// nil when no filter of the pair has them.
    @inline(__always)
    func slot(
        _ pair: Int,
        _ addresses: UInt64,
        _ slots: UnsafeBufferPointer<PairSlot>,
        _ bloom: UnsafeBufferPointer<UInt64>
    )
        -> PairSlot?
    {
        let tag = UInt32(truncatingIfNeeded: pair) | PairSlot.used
        let hash = ShapeHash.hash(addresses, UInt64(tag))
        let bit = Int(truncatingIfNeeded: hash >> 32 & pairBloomMask)
        if bloom[bit >> 6] & (1 << UInt64(bit & 63)) == 0 { return nil }
        var slot = Int(truncatingIfNeeded: hash) & pairSlotMask
        while true {
            let entry = slots[slot]
            if entry.tag == 0 { return nil }
            if entry.tag == tag && entry.addresses == addresses { return entry }
            slot = (slot &+ 1) & pairSlotMask
        }
    }

    /// The prefix length of a contiguous mask, or nil.
    static func prefixLength(_ mask: UInt32) -> Int? {
        let inverted = ~mask
        return inverted & (inverted &+ 1) == 0 ? mask.nonzeroBitCount : nil
    }
}

/// One entry of ``PairIndex``'s address table.
struct PairSlot {
    /// Masked source << 32 | masked destination.
    var addresses: UInt64
    /// The pair `s * 33 + d` | ``used``; 0 marks an empty slot.
    var tag: UInt32
    /// When every filter with these addresses has one shape and one protocol and port key (the
    /// usual case): that shape's position in the pair; the lookup then decides from this slot alone
    /// with ``rest``, ``inbound`` and ``outbound``. Otherwise -1, and ``variants`` lists the shapes
    /// to probe.
    var single: Int32
    /// Bit `n`: the pair's `n`-th shape holds these addresses (a pair has at most 64 shapes: 8
    /// protocol and port masks times 8 weight remainders).
    var variants: UInt64
    /// The single shape's packed protocol and ports (``ShapeHash/pack(_:_:_:)``).
    var rest: UInt64
    /// The single shape's best filter per direction.
    var inbound: Int32
    var outbound: Int32

    static let used: UInt32 = 1 << 31
    static let empty = PairSlot(addresses: 0, tag: 0, single: -1, variants: 0, rest: 0, inbound: -1, outbound: -1)
}

/// Building the concatenated shape, slot and bloom arrays of a table, one shape set per connection
/// type.
struct ShapeBuilder {
    let filters: [CompiledFilter]
    var shapes: [ShapeInfo] = []
    var slots: [Slot] = []
    var bloom: [UInt64] = []

    init(filters: [CompiledFilter]) { self.filters = filters }

    /// Adds the shapes of the filters `members`, heaviest first.
    mutating func add(members: some Sequence<Int>) -> ShapeSet {
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
            let storage = ShapeHash.build(members: groups[shape][...], filters: filters, slots: &slots, bloom: &bloom)
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
                    weight: Int32(signature.weightValue),
                    slotOffset: storage.slotOffset,
                    slotMask: storage.slotMask,
                    bloomOffset: storage.bloomOffset,
                    bloomMask: storage.bloomMask
                )
            )
        }
        let range = start..<shapes.count
        guard range.count > ShapeSet.scanLimit else { return ShapeSet(shapes: range, index: nil) }
        return ShapeSet(
            shapes: range,
            index: PairIndex(shapes: shapes, range: range, members: order.map { groups[$0] }, filters: filters)
        )
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
