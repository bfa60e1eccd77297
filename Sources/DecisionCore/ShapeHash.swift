import PolicyModel

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
}

/// One shape at lookup time: its masks and its part of ``FilterTable``'s slot and bloom arrays.
struct ShapeInfo {
    let sourceMask: UInt32
    let destinationMask: UInt32
    let protocolMask: UInt8
    let sourcePortMask: UInt16
    let destinationPortMask: UInt16
    /// The next shape (in a scanned shape set) has a smaller weight: a hit so far decides.
    let lastInLevel: Bool
    /// The weight all filters of the shape share (``FilterWeight/value``).
    let weight: Int32
    let slotOffset: Int
    let slotMask: Int
    let bloomOffset: Int
    let bloomMask: UInt64

    /// The best filter of this shape for `key`, or -1.
    @inline(__always)
    func find(_ key: PacketKey, inbound: Bool, _ storage: ShapeStorage) -> Int32 {
        let addresses = UInt64(key.source & sourceMask) << 32 | UInt64(key.destination & destinationMask)
        let rest = ShapeHash.pack(
            key.ipProtocol & protocolMask,
            key.sourcePort & sourcePortMask,
            key.destinationPort & destinationPortMask
        )
        let hash = ShapeHash.hash(addresses, rest)
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

/// Building a shape's open-addressing (linear probing) hash table and its bloom bitmap.
enum ShapeHash {
    /// Appends the slots (a power of two, at most half full) and the bloom bitmap (8 bits per slot)
    /// for the filters `members` of one shape; returns where they start and their masks. Sets the
    /// bit (``SharedKeys``) of every member whose key another member has too.
    static func build(
        members: ArraySlice<Int32>,
        filters: [CompiledFilter],
        slots: inout [Slot],
        bloom: inout [UInt64],
        sharedKeys: inout SharedKeys
    ) -> (slotOffset: Int, slotMask: Int, bloomOffset: Int, bloomMask: UInt64) {
        var capacity = 4
        while capacity < members.count * 2 { capacity <<= 1 }
        let slotMask = capacity - 1
        let slotOffset = slots.count
        let bloomOffset = bloom.count
        let bloomBits = capacity * 8
        slots.append(
            contentsOf: repeatElement(Slot(addresses: 0, rest: 0, inbound: -1, outbound: -1), count: capacity)
        )
        bloom.append(contentsOf: repeatElement(0, count: max(1, bloomBits / 64)))
        filters.withUnsafeBufferPointer { filters in
            slots.withUnsafeMutableBufferPointer { slots in
                for member in members {
                    let filter = filters[Int(member)]
                    let addresses = UInt64(filter.source) << 32 | UInt64(filter.destination)
                    let rest = pack(filter.ipProtocol, filter.sourcePort, filter.destinationPort)
                    let hash = hash(addresses, rest)
                    var slot = Int(truncatingIfNeeded: hash) & slotMask
                    while slots[slotOffset + slot].rest != 0
                        && (slots[slotOffset + slot].addresses != addresses || slots[slotOffset + slot].rest != rest)
                    {
                        slot = (slot + 1) & slotMask
                    }
                    let position = slotOffset + slot
                    if slots[position].rest == 0 {
                        slots[position] = Slot(addresses: addresses, rest: rest, inbound: member, outbound: member)
                        let bit = Int(truncatingIfNeeded: hash >> 32 & UInt64(bloomBits - 1))
                        bloom[bloomOffset + bit >> 6] |= 1 << UInt64(bit & 63)
                    } else {
                        // Same key, same weight: keep the one that wins the tie for each direction.
                        let current = slots[position]
                        sharedKeys.insert(current.inbound)
                        sharedKeys.insert(member)
                        if filter.tieKey(.inbound) < filters[Int(current.inbound)].tieKey(.inbound) {
                            slots[position].inbound = member
                        }
                        if filter.tieKey(.outbound) < filters[Int(current.outbound)].tieKey(.outbound) {
                            slots[position].outbound = member
                        }
                    }
                }
            }
        }
        return (slotOffset, slotMask, bloomOffset, UInt64(bloomBits - 1))
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
