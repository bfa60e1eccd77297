import PolicyModel

/// Everything of a ``FilterTable`` that is derived from its compiled filters: built whole, or patched
/// from the previous table when only actions changed.
struct TableParts: Sendable {
    /// Whether any filter negotiates: flows under a negotiate filter never take the fast path.
    var hasNegotiate: Bool
    /// Per-shape masks and where its slots are, heaviest shapes first within each connection type's
    /// set (trivial values only, so that a lookup does no reference counting).
    var shapes: [ShapeInfo]
    /// The shapes consulted for packets on LAN interfaces.
    var lanShapes: ShapeSet
    /// The shapes consulted for packets on remote access interfaces.
    var remoteAccessShapes: ShapeSet
    /// The hash slots of every shape, concatenated (24 bytes each: key and filters).
    var slots: [Slot]
    /// One small bitmap per shape (8 bits per slot) that rules most misses out before a probe
    /// touches the larger slot array: keeps the hot working set small at 100,000 filters.
    var bloom: [UInt64]
    /// Tie-break keys per filter: `[2 * index]` inbound, `[2 * index + 1]` outbound.
    var tieKeys: [UInt64]
    /// Actions per filter, `[2 * index]` inbound, `[2 * index + 1]` outbound: a compact copy of
    /// ``CompiledFilter/inbound`` and ``CompiledFilter/outbound`` for the packet path.
    var actions: [ActionSpec]
    /// Which filters share their exact key (shape and masked fields) with another filter of a shape
    /// set: the only ones whose action change can change what a slot holds.
    var sharedKeys: SharedKeys

    /// The full build: shapes, hash tables and indexes of every filter.
    init(building filters: [CompiledFilter]) {
        var builder = ShapeBuilder(filters: filters)
        let everywhere = filters.allSatisfy { $0.interfaceType == .all }
        if everywhere {
            lanShapes = builder.add(members: filters.indices.map { Int32($0) })
            remoteAccessShapes = lanShapes
        } else {
            lanShapes = builder.add(members: filters.indices.filter { filters[$0].applies(to: .lan) }.map { Int32($0) })
            remoteAccessShapes = builder.add(
                members: filters.indices.filter { filters[$0].applies(to: .remoteAccess) }.map { Int32($0) }
            )
        }
        shapes = builder.shapes
        slots = builder.slots
        bloom = builder.bloom
        sharedKeys = builder.sharedKeys
        tieKeys = []
        actions = []
        tieKeys.reserveCapacity(filters.count * 2)
        actions.reserveCapacity(filters.count * 2)
        for filter in filters {
            tieKeys.append(filter.tieKey(.inbound))
            tieKeys.append(filter.tieKey(.outbound))
            actions.append(filter.inbound)
            actions.append(filter.outbound)
        }
        hasNegotiate = actions.contains { $0.kind == .negotiate }
    }

    /// The parts of `previous` for `filters`, or nil when `filters` differ from `previous`'s in more
    /// than their actions (count, order, addresses, masks, protocol, ports, weight, policy index,
    /// mirror flag, connection type).
    ///
    /// Shapes, bloom bitmaps and indexes depend on none of the actions: they are shared. The actions
    /// and tie keys are copied with the changed filters' entries replaced. A slot holds the filter
    /// that wins the tie among those of its exact key; a changed filter whose key no other filter has
    /// (the usual case, ``SharedKeys``) is still the only one there, so only the slots of changed
    /// filters with shared keys are looked up and given their winners again, in a copy of the slots.
    init?(patching previous: FilterTable, with filters: [CompiledFilter]) {
        guard previous.filters.count == filters.count else { return nil }
        var changed: [Int32] = []
        let sameGeometry = previous.filters.withUnsafeBufferPointer { old in
            filters.withUnsafeBufferPointer { new in
                for index in new.indices {
                    guard old[index].hasGeometry(of: new[index]) else { return false }
                    if old[index].inbound != new[index].inbound || old[index].outbound != new[index].outbound {
                        changed.append(Int32(index))
                    }
                }
                return true
            }
        }
        guard sameGeometry else { return nil }
        self = previous.parts
        for member in changed {
            let index = Int(member)
            tieKeys[2 * index] = filters[index].tieKey(.inbound)
            tieKeys[2 * index + 1] = filters[index].tieKey(.outbound)
            actions[2 * index] = filters[index].inbound
            actions[2 * index + 1] = filters[index].outbound
        }
        // From the compact copy of the actions (a twelfth of the filters' bytes).
        hasNegotiate = actions.contains { $0.kind == .negotiate }
        let shared = changed.filter { sharedKeys.contains($0) }
        guard !shared.isEmpty else { return }
        let groups = Self.keyGroups(of: shared, in: filters)
        let sameSets =
            previous.parts.lanShapes.shapes == previous.parts.remoteAccessShapes.shapes
            && previous.parts.lanShapes.index === previous.parts.remoteAccessShapes.index
        lanShapes = patch(lanShapes, .lan, groups, filters)
        remoteAccessShapes = sameSets ? lanShapes : patch(remoteAccessShapes, .remoteAccess, groups, filters)
    }

    /// Gives every slot of `set` that holds one of `groups` (filters of one exact key each) the
    /// winners of its key again; returns the set (with a patched copy of its pair index when a
    /// single pair entry changed).
    private mutating func patch(
        _ set: ShapeSet,
        _ kind: InterfaceKind,
        _ groups: [[Int32]],
        _ filters: [CompiledFilter]
    ) -> ShapeSet {
        var pairSlots = set.index?.pairSlots
        var pairSlotsChanged = false
        for group in groups {
            let members = group.filter { filters[Int($0)].applies(to: kind) }
            guard let first = members.first else { continue }
            var inbound = first
            var outbound = first
            for member in members.dropFirst() {
                if tieKeys[2 * Int(member)] < tieKeys[2 * Int(inbound)] { inbound = member }
                if tieKeys[2 * Int(member) + 1] < tieKeys[2 * Int(outbound) + 1] { outbound = member }
            }
            let filter = filters[Int(first)]
            let signature = ShapeSignature(filter)
            var candidates: [Int32] = set.shapes.map { Int32($0) }
            if let index = set.index {
                candidates = index.residual
                if let s = PairIndex.prefixLength(filter.sourceMask),
                    let d = PairIndex.prefixLength(filter.destinationMask),
                    signature.weightValue >> 3 == s + d
                {
                    let pair = s * 33 + d
                    let addresses = UInt64(filter.source) << 32 | UInt64(filter.destination)
                    guard let position = index.slotPosition(pair, addresses) else { continue }
                    if pairSlots![position].isSingle {
                        pairSlots![position].payload =
                            UInt64(UInt32(bitPattern: inbound)) | UInt64(UInt32(bitPattern: outbound)) << 32
                        pairSlotsChanged = true
                        continue
                    }
                    candidates = Array(index.pairShapes[Int(index.pairStart[pair])..<Int(index.pairStart[pair + 1])])
                }
            }
            guard let shape = candidates.first(where: { shapes[Int($0)].has(signature) }),
                let position = shapes[Int(shape)].slotPosition(of: filter, slots)
            else { continue }
            slots[position].inbound = inbound
            slots[position].outbound = outbound
        }
        guard pairSlotsChanged, let index = set.index, let pairSlots else { return set }
        return ShapeSet(shapes: set.shapes, index: PairIndex(index, pairSlots: pairSlots))
    }

    /// For each filter of `members`, every filter of `filters` with its exact key (addresses, masks,
    /// protocol, ports, weight), in compile order; one group per key. One pass over the filters.
    static func keyGroups(of members: [Int32], in filters: [CompiledFilter]) -> [[Int32]] {
        var groupOf: [CompiledFilter.Key: Int] = [:]
        // A 4,096-bit filter on the addresses keeps the dictionary out of most of the pass.
        var seen = [UInt64](repeating: 0, count: 64)
        for member in members {
            let key = filters[Int(member)].key
            if groupOf[key] == nil { groupOf[key] = groupOf.count }
            let bit = key.addressBit
            seen[bit >> 6] |= 1 << UInt64(bit & 63)
        }
        var groups = [[Int32]](repeating: [], count: groupOf.count)
        filters.withUnsafeBufferPointer { filters in
            for index in filters.indices {
                let bit = CompiledFilter.Key.addressBit(filters[index].source, filters[index].destination)
                guard seen[bit >> 6] & (1 << UInt64(bit & 63)) != 0,
                    let group = groupOf[filters[index].key]
                else { continue }
                groups[group].append(Int32(index))
            }
        }
        return groups
    }
}

/// One bit per compiled filter: set when another filter of a shape set has its exact key (the same
/// slot holds both, and the tie-break decides which one a lookup finds).
struct SharedKeys: Sendable {
    private var bits: [UInt64]

    init(count: Int) { bits = [UInt64](repeating: 0, count: (count + 63) / 64) }

    mutating func insert(_ member: Int32) { bits[Int(member) >> 6] |= 1 << UInt64(member & 63) }

    func contains(_ member: Int32) -> Bool { bits[Int(member) >> 6] & (1 << UInt64(member & 63)) != 0 }
}

extension CompiledFilter {
    /// What a slot is keyed by (with the shape that the masks and the weight give).
    struct Key: Hashable {
        var source: UInt32
        var sourceMask: UInt32
        var destination: UInt32
        var destinationMask: UInt32
        var ipProtocol: UInt8
        var sourcePort: UInt16
        var destinationPort: UInt16
        var weight: Int

        var addressBit: Int { Self.addressBit(source, destination) }

        static func addressBit(_ source: UInt32, _ destination: UInt32) -> Int {
            Int(truncatingIfNeeded: ShapeHash.hash(UInt64(source) << 32 | UInt64(destination), 0) >> 52)
        }
    }

    var key: Key {
        Key(
            source: source,
            sourceMask: sourceMask,
            destination: destination,
            destinationMask: destinationMask,
            ipProtocol: ipProtocol,
            sourcePort: sourcePort,
            destinationPort: destinationPort,
            weight: weight.value
        )
    }

    /// Whether `other` is this filter but for its actions.
    func hasGeometry(of other: CompiledFilter) -> Bool {
        source == other.source && sourceMask == other.sourceMask && destination == other.destination
            && destinationMask == other.destinationMask && ipProtocol == other.ipProtocol
            && sourcePort == other.sourcePort && destinationPort == other.destinationPort
            && weight.value == other.weight.value && policyIndex == other.policyIndex && isMirror == other.isMirror
            && interfaceType == other.interfaceType
    }
}

extension ShapeInfo {
    /// Whether this shape is the one of filters with `signature`.
    func has(_ signature: ShapeSignature) -> Bool {
        sourceMask == signature.sourceMask && destinationMask == signature.destinationMask
            && protocolMask == signature.protocolMask && sourcePortMask == signature.sourcePortMask
            && destinationPortMask == signature.destinationPortMask && Int(weight) == signature.weightValue
    }

    /// Where the slot of `filter`'s key is in `slots` (the table's whole slot array), or nil.
    func slotPosition(of filter: CompiledFilter, _ slots: [Slot]) -> Int? {
        let addresses = UInt64(filter.source) << 32 | UInt64(filter.destination)
        let rest = ShapeHash.pack(filter.ipProtocol, filter.sourcePort, filter.destinationPort)
        var slot = Int(truncatingIfNeeded: ShapeHash.hash(addresses, rest)) & slotMask
        while slots[slotOffset + slot].rest != 0 {
            if slots[slotOffset + slot].rest == rest && slots[slotOffset + slot].addresses == addresses {
                return slotOffset + slot
            }
            slot = (slot + 1) & slotMask
        }
        return nil
    }
}
