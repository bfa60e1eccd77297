/// One lookup over a shape set: the packet, its direction and the table's arrays as buffers (so that
/// the loop does no reference counting or bounds checks beyond the buffers').
struct Probe {
    let key: PacketKey
    let inbound: Bool
    let shapes: UnsafeBufferPointer<ShapeInfo>
    let storage: ShapeStorage
    /// Tie-break keys per filter: `[2 * index]` inbound, `[2 * index + 1]` outbound.
    let ties: UnsafeBufferPointer<UInt64>

    /// Whether filter `candidate` of weight `weight` beats `best` of weight `bestWeight`.
    @inline(__always)
    func beats(_ candidate: Int32, _ weight: Int32, _ best: Int32, _ bestWeight: Int32) -> Bool {
        if best < 0 || weight > bestWeight { return true }
        if weight < bestWeight { return false }
        let offset = inbound ? 0 : 1
        return ties[Int(candidate) &* 2 &+ offset] < ties[Int(best) &* 2 &+ offset]
    }

    /// Every shape of `range`, heaviest first; the first weight level with a hit decides.
    @inline(__always)
    func scan(_ range: Range<Int>) -> Int32 {
        var best: Int32 = -1
        for shape in UnsafeBufferPointer(rebasing: shapes[range]) {
            let candidate = shape.find(key, inbound: inbound, storage)
            if candidate >= 0 && beats(candidate, shape.weight, best, shape.weight) { best = candidate }
            if shape.lastInLevel && best >= 0 { return best }
        }
        return -1
    }

    /// Only the pairs of prefix lengths that both cover the packet, by decreasing sum σ of the two
    /// lengths; the first sum with a hit decides (every weight of a sum σ lies in 8σ…8σ+7, above
    /// every weight of a smaller sum).
    @inline(__always)
    func pruned(_ index: PairIndex) -> Int32 {
        var best: Int32 = -1
        var bestWeight: Int32 = -1
        index.residual.withUnsafeBufferPointer { residual in
            for position in residual {
                let shape = shapes[Int(position)]
                let candidate = shape.find(key, inbound: inbound, storage)
                if candidate >= 0 && beats(candidate, shape.weight, best, bestWeight) {
                    best = candidate
                    bestWeight = shape.weight
                }
            }
        }
        let sources = index.sources.lookup(key.source)
        let destinations = index.destinations.lookup(key.destination)
        if sources == 0 || destinations == 0 { return best }
        // Bit 63 − d of `reversed` is bit d of `destinations`: `reversed >> (63 − σ)` has bit s set
        // exactly when σ − s is a destination length.
        let reversed = Self.bitReversed(destinations)
        let packetRest = ShapeHash.pack(key.ipProtocol, key.sourcePort, key.destinationPort) & PairSlot.restMask
        return index.sums.withUnsafeBufferPointer { sums in
            index.pairsOf.withUnsafeBufferPointer { pairsOf in
                index.pairStart.withUnsafeBufferPointer { pairStart in
                    index.pairShapes.withUnsafeBufferPointer { pairShapes in
                        index.pairSlots.withUnsafeBufferPointer { pairSlots in
                            index.pairBloom.withUnsafeBufferPointer { pairBloom in
                                // The sums that have a candidate pair, as a 65-bit set.
                                var low: UInt64 = 0
                                var high: UInt64 = 0
                                var lengths = sources
                                while lengths != 0 {
                                    let s = lengths.trailingZeroBitCount
                                    lengths &= lengths &- 1
                                    let ds = pairsOf[s] & destinations
                                    low |= ds << UInt64(s)
                                    if s > 0 { high |= ds >> UInt64(64 &- s) }
                                }
                                while low != 0 || high != 0 {
                                    let sum =
                                        high != 0 ? 127 &- high.leadingZeroBitCount : 63 &- low.leadingZeroBitCount
                                    if sum >= 64 {
                                        high &= ~(1 << UInt64(sum &- 64))
                                    } else {
                                        low &= ~(1 << UInt64(sum))
                                    }
                                    // Nothing of this sum or below can beat a hit above it.
                                    if Int(bestWeight) >= sum &* 8 &+ 8 { return best }
                                    let shifted = sum == 64 ? reversed << 1 : reversed >> UInt64(63 &- sum)
                                    var candidates = sources & sums[sum] & shifted
                                    while candidates != 0 {
                                        let s = candidates.trailingZeroBitCount
                                        candidates &= candidates &- 1
                                        let d = sum &- s
                                        let pair = s &* 33 &+ d
                                        let addresses =
                                            UInt64(PairIndex.masked(key.source, s)) << 32
                                            | UInt64(PairIndex.masked(key.destination, d))
                                        guard let slot = index.slot(pair, addresses, pairSlots, pairBloom) else {
                                            continue
                                        }
                                        if slot.isSingle {
                                            // The entry carries its shape's masks (in its key) and weight:
                                            // no dependent load of the shape.
                                            let weight = Int32(truncatingIfNeeded: sum &<< 3 | slot.weightRemainder)
                                            let candidate = inbound ? slot.inbound : slot.outbound
                                            if packetRest & slot.restFieldMask == slot.rest
                                                && beats(candidate, weight, best, bestWeight)
                                            {
                                                best = candidate
                                                bestWeight = weight
                                            }
                                            continue
                                        }
                                        let first = Int(pairStart[pair])
                                        // A pair's shapes are heaviest first: stop at one lighter than the best hit.
                                        var variants = slot.variants
                                        while variants != 0 {
                                            let shape = shapes[Int(pairShapes[first &+ variants.trailingZeroBitCount])]
                                            variants &= variants &- 1
                                            if shape.weight < bestWeight { break }
                                            let candidate = shape.find(key, inbound: inbound, storage)
                                            if candidate >= 0 && beats(candidate, shape.weight, best, bestWeight) {
                                                best = candidate
                                                bestWeight = shape.weight
                                            }
                                        }
                                    }
                                    if best >= 0 && Int(bestWeight) >= sum &* 8 { return best }
                                }
                                return best
                            }
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    static func bitReversed(_ value: UInt64) -> UInt64 {
        var v = value.byteSwapped
        v = (v & 0x0F0F_0F0F_0F0F_0F0F) << 4 | (v >> 4) & 0x0F0F_0F0F_0F0F_0F0F
        v = (v & 0x3333_3333_3333_3333) << 2 | (v >> 2) & 0x3333_3333_3333_3333
        v = (v & 0x5555_5555_5555_5555) << 1 | (v >> 1) & 0x5555_5555_5555_5555
        return v
    }
}
