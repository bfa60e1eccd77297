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

    /// The index of the shapes at positions `range` with signatures `signatures` (in the same order),
    /// whose filters are `members[memberStart[k] ..< memberStart[k + 1]]` for the `k`-th shape.
    /// `needsShapeTable[i]` is set for each member `members[i]` that a lookup must find through its
    /// shape's hash table: the members of residual shapes, and those whose addresses several shapes
    /// or keys share; every other member is decided by its pair slot alone.
    init(
        signatures: [ShapeSignature],
        range: Range<Int>,
        members: [Int32],
        memberStart: [Int],
        filters: [CompiledFilter],
        needsShapeTable: inout [Bool],
        sharedKeys: inout SharedKeys
    ) {
        var byPair = [[Int32]](repeating: [], count: 33 * 33)
        var residual: [Int32] = []
        var pairsOf = [UInt64](repeating: 0, count: 33)
        var sums = [UInt64](repeating: 0, count: 65)
        // Pair and variant within the pair of each indexable shape, by offset in `range` (-1: residual).
        var placement = [(pair: Int, variant: Int)](repeating: (-1, 0), count: range.count)
        var keyCount = 0
        for (offset, position) in range.enumerated() {
            let shape = signatures[offset]
            guard let s = Self.prefixLength(shape.sourceMask), let d = Self.prefixLength(shape.destinationMask),
                shape.weightValue >> 3 == s + d
            else {
                residual.append(Int32(position))
                for index in memberStart[offset]..<memberStart[offset + 1] { needsShapeTable[index] = true }
                continue
            }
            placement[offset] = (s * 33 + d, byPair[s * 33 + d].count)
            byPair[s * 33 + d].append(Int32(position))
            pairsOf[s] |= 1 << UInt64(d)
            sums[s + d] |= 1 << UInt64(s)
            keyCount += memberStart[offset + 1] - memberStart[offset]
        }
        // At most 70 % full: the bloom bitmap in front keeps most misses away from the slots.
        var capacity = 4
        while capacity * 7 < keyCount * 10 { capacity <<= 1 }
        var slots = [PairSlot](repeating: .empty, count: capacity)
        var bloom = [UInt64](repeating: 0, count: max(1, capacity * 8 / 64))
        let bloomMask = UInt64(capacity * 8 - 1)
        var sourceKeys: [UInt64] = []
        var destinationKeys: [UInt64] = []
        sourceKeys.reserveCapacity(keyCount)
        destinationKeys.reserveCapacity(keyCount)
        // The slot of each indexed member, to flag the members of multiple-key slots at the end.
        var slotOf = [Int32](repeating: -1, count: members.count)
        filters.withUnsafeBufferPointer { filters in
            slots.withUnsafeMutableBufferPointer { slots in
                for offset in placement.indices where placement[offset].pair >= 0 {
                    let (pair, variant) = placement[offset]
                    let tag = PairSlot.tag(pair)
                    for index in memberStart[offset]..<memberStart[offset + 1] {
                        let member = members[index]
                        let filter = filters[Int(member)]
                        let addresses = UInt64(filter.source) << 32 | UInt64(filter.destination)
                        let hash = ShapeHash.hash(addresses, tag)
                        var slot = Int(truncatingIfNeeded: hash) & (capacity - 1)
                        while slots[slot].packed != 0
                            && (slots[slot].packed & PairSlot.tagMask != tag || slots[slot].addresses != addresses)
                        {
                            slot = (slot + 1) & (capacity - 1)
                        }
                        let rest =
                            ShapeHash.pack(filter.ipProtocol, filter.sourcePort, filter.destinationPort)
                            & PairSlot.restMask
                        let current = slots[slot]
                        if current.packed == 0 {
                            slots[slot] = PairSlot(
                                addresses: addresses,
                                pair: pair,
                                variant: variant,
                                weightRemainder: signatures[offset].weightValue & 7,
                                rest: rest,
                                inbound: member,
                                outbound: member
                            )
                            let bit = Int(truncatingIfNeeded: hash >> 32 & bloomMask)
                            bloom[bit >> 6] |= 1 << UInt64(bit & 63)
                            sourceKeys.append(PrefixCover.key(filter.source, pair / 33))
                            destinationKeys.append(PrefixCover.key(filter.destination, pair % 33))
                        } else if current.isSingle && current.variant == variant && current.rest == rest {
                            // Same shape and key: keep the filter that wins the tie for each direction.
                            sharedKeys.insert(current.inbound)
                            sharedKeys.insert(member)
                            var inbound = current.inbound
                            var outbound = current.outbound
                            if filter.tieKey(.inbound) < filters[Int(inbound)].tieKey(.inbound) { inbound = member }
                            if filter.tieKey(.outbound) < filters[Int(outbound)].tieKey(.outbound) { outbound = member }
                            slots[slot].payload =
                                UInt64(UInt32(bitPattern: inbound)) | UInt64(UInt32(bitPattern: outbound)) << 32
                        } else if current.isSingle {
                            slots[slot].packed |= PairSlot.multiple
                            slots[slot].payload = 1 << UInt64(current.variant) | 1 << UInt64(variant)
                        } else {
                            slots[slot].payload |= 1 << UInt64(variant)
                        }
                        slotOf[index] = Int32(slot)
                    }
                }
            }
        }
        for index in slotOf.indices where slotOf[index] >= 0 && !slots[Int(slotOf[index])].isSingle {
            needsShapeTable[index] = true
        }
        pairSlots = slots
        pairSlotMask = capacity - 1
        pairBloom = bloom
        pairBloomMask = bloomMask
        sources = PrefixCover(keys: sourceKeys)
        destinations = PrefixCover(keys: destinationKeys)
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

    /// The same index with other address-table entries (an incremental compile that changed which
    /// filter of a single entry wins, ``TableParts/init(patching:with:)``): the rest is shared.
    init(_ other: PairIndex, pairSlots: [PairSlot]) {
        sources = other.sources
        destinations = other.destinations
        pairsOf = other.pairsOf
        sums = other.sums
        pairStart = other.pairStart
        pairShapes = other.pairShapes
        residual = other.residual
        self.pairSlots = pairSlots
        pairSlotMask = other.pairSlotMask
        pairBloom = other.pairBloom
        pairBloomMask = other.pairBloomMask
    }

    /// Where the entry of `pair` with exactly `addresses` is in ``pairSlots``, or nil (compile time).
    func slotPosition(_ pair: Int, _ addresses: UInt64) -> Int? {
        let tag = PairSlot.tag(pair)
        var slot = Int(truncatingIfNeeded: ShapeHash.hash(addresses, tag)) & pairSlotMask
        while pairSlots[slot].packed != 0 {
            if pairSlots[slot].packed & PairSlot.tagMask == tag && pairSlots[slot].addresses == addresses {
                return slot
            }
            slot = (slot + 1) & pairSlotMask
        }
        return nil
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
        let tag = PairSlot.tag(pair)
        let hash = ShapeHash.hash(addresses, tag)
        let bit = Int(truncatingIfNeeded: hash >> 32 & pairBloomMask)
        if bloom[bit >> 6] & (1 << UInt64(bit & 63)) == 0 { return nil }
        var slot = Int(truncatingIfNeeded: hash) & pairSlotMask
        while true {
            let entry = slots[slot]
            if entry.packed == 0 { return nil }
            if entry.packed & PairSlot.tagMask == tag && entry.addresses == addresses { return entry }
            slot = (slot &+ 1) & pairSlotMask
        }
    }

    /// `address` under a prefix of `length` (0…32) bits. The shift is a 64-bit one by at most 32,
    /// truncated: `UInt32.max << (32 − length)` would branch for the shift by 32 (length 0), and a
    /// lookup masks two addresses for every pair of lengths it tries.
    @inline(__always)
    static func masked(_ address: UInt32, _ length: Int) -> UInt32 {
        address & UInt32(truncatingIfNeeded: UInt64.max &<< UInt64(truncatingIfNeeded: 32 &- length))
    }

    /// The prefix length of a contiguous mask, or nil.
    static func prefixLength(_ mask: UInt32) -> Int? {
        let inverted = ~mask
        return inverted & (inverted &+ 1) == 0 ? mask.nonzeroBitCount : nil
    }
}

/// One entry of ``PairIndex``'s address table (24 bytes).
///
/// When every filter with the entry's addresses has one shape and one protocol and port key (the
/// usual case), the entry is *single*: it carries that shape (its position in the pair), the key and
/// the best filter per direction, and a lookup decides from it alone. Otherwise it lists the shapes
/// of the pair that hold the addresses (bit `n`: the pair's `n`-th shape; a pair has at most 64
/// shapes: 8 protocol and port masks times 8 weight remainders), which the lookup then probes.
struct PairSlot {
    /// Masked source << 32 | masked destination.
    var addresses: UInt64
    /// ``used`` | ``multiple`` | the single shape's weight remainder (its weight is 8 × (s + d) + the
    /// remainder) << 57 | the single shape << 51 | the pair `s * 33 + d` << 40 | the single key
    /// (``ShapeHash/pack(_:_:_:)`` without its top bit).
    var packed: UInt64
    /// Single: inbound filter | outbound filter << 32. Multiple: the shapes to probe.
    var payload: UInt64

    static let used: UInt64 = 1 << 63
    static let multiple: UInt64 = 1 << 62
    static let tagMask: UInt64 = used | 0x7FF << 40
    static let restMask: UInt64 = 0xFF_FFFF_FFFF
    static let empty = PairSlot(addresses: 0, packed: 0, payload: 0)

    /// What ``packed`` holds (under ``tagMask``) for an entry of `pair`.
    @inline(__always)
    static func tag(_ pair: Int) -> UInt64 { used | UInt64(truncatingIfNeeded: pair) << 40 }

    init(addresses: UInt64, packed: UInt64, payload: UInt64) {
        self.addresses = addresses
        self.packed = packed
        self.payload = payload
    }

    /// A single entry.
    init(
        addresses: UInt64,
        pair: Int,
        variant: Int,
        weightRemainder: Int,
        rest: UInt64,
        inbound: Int32,
        outbound: Int32
    ) {
        self.addresses = addresses
        packed =
            Self.tag(pair) | UInt64(weightRemainder) << 57 | UInt64(variant) << 51 | rest & Self.restMask
        payload = UInt64(UInt32(bitPattern: inbound)) | UInt64(UInt32(bitPattern: outbound)) << 32
    }

    var isSingle: Bool { packed & Self.multiple == 0 }
    /// Single: the shape's position in the pair.
    var variant: Int { Int(truncatingIfNeeded: packed >> 51 & 63) }
    /// Single: the key without its top bit.
    var rest: UInt64 { packed & Self.restMask }
    /// Single: the shape's weight less 8 × (s + d).
    var weightRemainder: Int { Int(truncatingIfNeeded: packed >> 57 & 7) }
    /// Single: which of protocol and ports the key has (its shape's masks): a filter's field is 0
    /// exactly where it takes any value, so the key alone gives them and a lookup needs no shape.
    var restFieldMask: UInt64 {
        let rest = packed & Self.restMask
        return (rest & 0xFF_0000_0000 == 0 ? 0 : 0xFF_0000_0000) | (rest & 0xFFFF_0000 == 0 ? 0 : 0xFFFF_0000)
            | (rest & 0xFFFF == 0 ? 0 : 0xFFFF)
    }
    var inbound: Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: payload)) }
    var outbound: Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: payload >> 32)) }
    /// Multiple: the shapes of the pair to probe.
    var variants: UInt64 { payload }
}

/// Building the concatenated shape, slot and bloom arrays of a table, one shape set per connection
/// type.
struct ShapeBuilder {
    let filters: [CompiledFilter]
    var shapes: [ShapeInfo] = []
    var slots: [Slot] = []
    var bloom: [UInt64] = []
    var sharedKeys: SharedKeys

    init(filters: [CompiledFilter]) {
        self.filters = filters
        sharedKeys = SharedKeys(count: filters.count)
    }

    /// Adds the shapes of the filters `members` (indices into ``filters``), heaviest first.
    mutating func add(members: [Int32]) -> ShapeSet {
        let start = shapes.count
        // Group by signature without hashing the common case: a filter whose masks are prefixes and
        // whose weight is 8 × (sum of the lengths) + 0…7 has the variant (masks of protocol and
        // ports) × 8 + weight remainder within its pair s × 33 + d. Each pair that occurs gets a
        // block of 64 ids when first seen, rather than filling 33 × 33 × 64 ids for every compile.
        var blockOfPair = [Int32](repeating: -1, count: 33 * 33)
        var denseIDs: [Int32] = []
        var otherIDs: [ShapeSignature: Int32] = [:]
        var signatures: [ShapeSignature] = []
        var shapeOf = [Int32](repeating: 0, count: members.count)
        var counts: [Int] = []
        filters.withUnsafeBufferPointer { filters in
            for (offset, member) in members.enumerated() {
                let filter = filters[Int(member)]
                let weight = filter.weight.value
                let id: Int32
                if let s = PairIndex.prefixLength(filter.sourceMask),
                    let d = PairIndex.prefixLength(filter.destinationMask),
                    weight >> 3 == s + d
                {
                    let masks =
                        (filter.ipProtocol == 0 ? 0 : 4) | (filter.sourcePort == 0 ? 0 : 2)
                        | (filter.destinationPort == 0 ? 0 : 1)
                    if blockOfPair[s * 33 + d] < 0 {
                        blockOfPair[s * 33 + d] = Int32(denseIDs.count)
                        denseIDs.append(contentsOf: repeatElement(-1, count: 64))
                    }
                    let dense = Int(blockOfPair[s * 33 + d]) + masks * 8 + (weight & 7)
                    if denseIDs[dense] < 0 {
                        denseIDs[dense] = Int32(signatures.count)
                        signatures.append(ShapeSignature(filter))
                        counts.append(0)
                    }
                    id = denseIDs[dense]
                } else {
                    let signature = ShapeSignature(filter)
                    if let known = otherIDs[signature] {
                        id = known
                    } else {
                        id = Int32(signatures.count)
                        otherIDs[signature] = id
                        signatures.append(signature)
                        counts.append(0)
                    }
                }
                shapeOf[offset] = id
                counts[Int(id)] += 1
            }
        }
        // Heaviest first; the members of each shape contiguous, in compile order.
        let order = signatures.indices.sorted { signatures[$0].weightValue > signatures[$1].weightValue }
        var memberStart = [Int](repeating: 0, count: order.count + 1)
        var positionOf = [Int](repeating: 0, count: order.count)
        for (position, shape) in order.enumerated() {
            positionOf[shape] = position
            memberStart[position + 1] = memberStart[position] + counts[shape]
        }
        var next = memberStart
        var grouped = [Int32](repeating: 0, count: members.count)
        for (offset, member) in members.enumerated() {
            let position = positionOf[Int(shapeOf[offset])]
            grouped[next[position]] = member
            next[position] += 1
        }
        let ordered = order.map { signatures[$0] }
        let range = start..<(start + order.count)
        // A large set gets its pair index first: it says which members its shape tables still need.
        var needsShapeTable = [Bool](repeating: range.count <= ShapeSet.scanLimit, count: grouped.count)
        let index =
            range.count <= ShapeSet.scanLimit
            ? nil
            : PairIndex(
                signatures: ordered,
                range: range,
                members: grouped,
                memberStart: memberStart,
                filters: filters,
                needsShapeTable: &needsShapeTable,
                sharedKeys: &sharedKeys
            )
        var tableMembers: [Int32] = []
        for (position, signature) in ordered.enumerated() {
            tableMembers.removeAll(keepingCapacity: true)
            for index in memberStart[position]..<memberStart[position + 1] where needsShapeTable[index] {
                tableMembers.append(grouped[index])
            }
            let storage = ShapeHash.build(
                members: tableMembers[...],
                filters: filters,
                slots: &slots,
                bloom: &bloom,
                sharedKeys: &sharedKeys
            )
            let lastInLevel =
                position == ordered.count - 1 || ordered[position + 1].weightValue != signature.weightValue
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
        return ShapeSet(shapes: range, index: index)
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
