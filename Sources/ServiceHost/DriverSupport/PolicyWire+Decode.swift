import FoundationEssentials
public import PolicyModel

extension PolicyWire {
    /// The policy in `bytes`. Total: any bytes give a policy or an error, never a trap, and no count is
    /// believed beyond what the bytes can hold.
    /// - Throws: ``PolicyWireError`` naming the byte offset and the field of what does not parse.
    public static func decode(_ bytes: [UInt8]) throws(PolicyWireError) -> EffectivePolicy {
        try decode(bytes[...])
    }

    /// The policy in `bytes` (a table inside a larger buffer, such as the driver's saved state); byte
    /// offsets in errors count from the slice's start.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(PolicyWireError) -> EffectivePolicy {
        try bytes.withUnsafeBytes { raw in Result { () throws(PolicyWireError) in try decode(raw) } }.get()
    }

    private static func decode(_ raw: UnsafeRawBufferPointer) throws(PolicyWireError) -> EffectivePolicy {
        var reader = WireReader(raw)
        guard Array(try reader.bytes(4)) == magic else {
            throw reader.error("not a policy table (no IPSP mark)", back: 4)
        }
        let found = try reader.u16()
        switch found {
        case 3, 4: return try decodeVersion3or4(&reader, version: found)
        case 1, 2: return try decodeVersion1or2(&reader, version: found)
        default: throw reader.error("policy table version \(found), expected \(version)", back: 2)
        }
    }

    /// Versions 3 and 4 differ in their provenances only: version 3 wrote them before the string table,
    /// as records with texts of their own.
    private static func decodeVersion3or4(
        _ reader: inout WireReader,
        version: UInt16
    ) throws(PolicyWireError) -> EffectivePolicy {
        let decoder = JSONDecoder()
        var policy: EffectivePolicy = try reader.json(decoder, "the policy")
        guard policy.filters.isEmpty else { throw reader.error("the policy carries filters outside the records") }

        let contextCount = try reader.count("contexts", bytesEach: 4)
        var contexts: [EffectiveFilter] = []
        contexts.reserveCapacity(contextCount)
        for _ in 0..<contextCount { contexts.append(try reader.json(decoder, "a filter context")) }

        var decodedProvenances: [Provenance] = []
        if version == 3 {
            let provenanceCount = try reader.count("provenances", bytesEach: WireReader.minimumProvenanceSize)
            decodedProvenances.reserveCapacity(provenanceCount)
            for _ in 0..<provenanceCount { decodedProvenances.append(try reader.provenance()) }
        }

        let stringCount = try reader.count("strings", bytesEach: 4)
        var strings: [String] = []
        // Version 4: provenance records are checked here, and each is built when its group is, straight
        // into the group's context (no array of 100,000 provenances in between).
        var provenanceRecords: ProvenanceReader?
        if version == 3 {
            strings.reserveCapacity(stringCount)
            for _ in 0..<stringCount { strings.append(try reader.string()) }
        } else {
            strings = try reader.stringTable(count: stringCount)
            let provenanceCount = try reader.count("provenances", bytesEach: provenanceSize)
            let records = try reader.bytes(provenanceCount * provenanceSize)
            let checked = ProvenanceReader(
                raw: UnsafeRawBufferPointer(rebasing: records),
                base: records.startIndex,
                strings: strings
            )
            for number in 0..<provenanceCount { try checked.check(number) }
            provenanceRecords = checked
        }
        let provenanceCount = provenanceRecords?.count ?? decodedProvenances.count

        let groupCount = try reader.count("groups", bytesEach: 8)
        var groups: [(context: UInt32, provenance: UInt32)] = []
        groups.reserveCapacity(groupCount)
        for number in 0..<groupCount {
            let context = try reader.u32()
            guard context < contexts.count else {
                throw reader.error("group \(number): context \(context) of \(contexts.count)", back: 4)
            }
            let provenance = try reader.u32()
            guard provenance < provenanceCount else {
                throw reader.error("group \(number): provenance \(provenance) of \(provenanceCount)", back: 4)
            }
            groups.append((context, provenance))
        }

        let count = Int(try reader.u32())
        guard reader.remaining / recordSize >= count else {
            throw reader.error("\(count) filters of \(recordSize) bytes in \(reader.remaining) bytes", back: 4)
        }
        guard reader.remaining == count * recordSize else {
            throw reader.error("\(reader.remaining - count * recordSize) bytes after the last filter")
        }
        var filters: [EffectiveFilter] = []
        filters.reserveCapacity(count)
        let records = try reader.bytes(count * recordSize)
        let recordReader = RecordReader(
            raw: UnsafeRawBufferPointer(rebasing: records),
            base: records.startIndex,
            strings: strings,
            groups: groups.count
        )
        // One shared context per group, made for its first filter: the group's later filters hold that
        // filter's box (the position of its first filter, or -1), so a filter costs its `Filter` only.
        var firstOfGroup = [Int32](repeating: -1, count: groups.count)
        for number in 0..<count {
            let (group, filter) = try recordReader.filter(number)
            let first = firstOfGroup[group]
            if first >= 0 {
                filters.append(filters[Int(first)].with(filter: filter))
                continue
            }
            var made = contexts[Int(groups[group].context)]
            let provenance = Int(groups[group].provenance)
            made.provenance = provenanceRecords?.provenance(provenance) ?? decodedProvenances[provenance]
            made.filter = filter
            firstOfGroup[group] = Int32(number)
            filters.append(made)
        }
        policy.filters = filters
        return policy
    }
}

/// Reads the fixed provenance records of version 4 (layout: ``PolicyWire``): each is checked once, in
/// the table's order (``check(_:)``, so that the first bad field is the error, before any later part of
/// the table), and built from its checked fields when its group is (``provenance(_:)``), without being
/// checked again.
private struct ProvenanceReader {
    let raw: UnsafeRawBufferPointer
    /// The offset of the first record in the table, for errors.
    let base: Int
    let strings: [String]

    var count: Int { raw.count / PolicyWire.provenanceSize }

    private func load<T: FixedWidthInteger>(_ number: Int, _ field: Int, as: T.Type) -> T {
        T(littleEndian: raw.loadUnaligned(fromByteOffset: number * PolicyWire.provenanceSize + field, as: T.self))
    }

    private func guid(_ number: Int, _ field: Int) -> IPsecGUID {
        let offset = number * PolicyWire.provenanceSize + field
        return IPsecGUID(
            high: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
            low: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
        )
    }

    /// Checks record `number`'s fields: kind, presence bits, reserved 0, every text within the string
    /// table (absent ones 0), absent GUIDs 0.
    func check(_ number: Int) throws(PolicyWireError) {
        func failure(_ field: Int, _ message: String) -> PolicyWireError {
            PolicyWireError(
                offset: base + number * PolicyWire.provenanceSize + field,
                message: "provenance \(number): \(message)"
            )
        }
        let kind = Int(load(number, 0, as: UInt8.self))
        guard kind < SourceKind.allCases.count else { throw failure(0, "source kind \(kind)") }
        let presence = load(number, 1, as: UInt8.self)
        guard presence & ~0x3F == 0 else { throw failure(1, "presence bits \(presence) (only bits 0–5 are defined)") }
        let reserved = load(number, 2, as: UInt16.self)
        guard reserved == 0 else { throw failure(2, "reserved field \(reserved)") }
        /// A text's index: within the table, or 0 when absent (`bit` clear).
        func text(_ field: Int, _ what: String, bit: UInt8? = nil) throws(PolicyWireError) {
            let index = Int(load(number, field, as: UInt32.self))
            if let bit, presence & 1 << bit == 0 {
                guard index == 0 else { throw failure(field, "\(what) string \(index) where it is absent") }
                return
            }
            guard index < strings.count else { throw failure(field, "\(what) string \(index) of \(strings.count)") }
        }
        func guid(_ field: Int, _ what: String, bit: UInt8) throws(PolicyWireError) {
            guard presence & 1 << bit != 0 || self.guid(number, field) == .zero else {
                throw failure(field, "\(what) GUID where it is absent")
            }
        }
        try text(4, "source")
        try text(8, "store", bit: 0)
        try text(12, "policy name")
        try text(16, "rule name")
        try text(20, "filter list name")
        try text(24, "filter action name")
        try text(28, "GPO", bit: 4)
        try text(32, "linked through", bit: 5)
        try guid(36, "policy", bit: 1)
        try guid(52, "rule", bit: 2)
        try guid(68, "filter list", bit: 3)
    }

    /// The provenance of record `number`, which ``check(_:)`` passed.
    func provenance(_ number: Int) -> Provenance {
        let presence = load(number, 1, as: UInt8.self)
        func text(_ field: Int) -> String { strings[Int(load(number, field, as: UInt32.self))] }
        func text(_ field: Int, bit: UInt8) -> String? { presence & 1 << bit != 0 ? text(field) : nil }
        func guid(_ field: Int, bit: UInt8) -> IPsecGUID? { presence & 1 << bit != 0 ? self.guid(number, field) : nil }
        return Provenance(
            kind: SourceKind.allCases[Int(load(number, 0, as: UInt8.self))],
            source: text(4),
            store: text(8, bit: 0),
            policyName: text(12),
            policyID: guid(36, bit: 1),
            ruleName: text(16),
            ruleID: guid(52, bit: 2),
            filterListName: text(20),
            filterListID: guid(68, bit: 3),
            filterActionName: text(24),
            gpo: text(28, bit: 4),
            linkedThrough: text(32, bit: 5)
        )
    }
}

/// Reads the fixed 48-byte filter records (layout: ``PolicyWire``), checking every field.
private struct RecordReader {
    let raw: UnsafeRawBufferPointer
    /// The offset of the first record in the table, for errors.
    let base: Int
    let strings: [String]
    let groups: Int

    func filter(_ number: Int) throws(PolicyWireError) -> (group: Int, filter: Filter) {
        let offset = number * PolicyWire.recordSize
        func load<T: FixedWidthInteger>(_ field: Int, as: T.Type) -> T {
            T(littleEndian: raw.loadUnaligned(fromByteOffset: offset + field, as: T.self))
        }
        func failure(_ field: Int, _ message: String) -> PolicyWireError {
            PolicyWireError(offset: base + offset + field, message: "filter \(number): \(message)")
        }
        func text(_ field: Int, _ what: String) throws(PolicyWireError) -> String {
            let index = Int(load(field, as: UInt32.self))
            guard index < strings.count else { throw failure(field, "\(what) string \(index) of \(strings.count)") }
            return strings[index]
        }
        func address(_ field: Int, _ what: String) throws(PolicyWireError) -> FilterAddress {
            let tagField = what == "source" ? 26 : 27
            let value = load(field, as: UInt32.self)
            let extra = load(field + 4, as: UInt32.self)
            let tag = load(tagField, as: UInt8.self)
            func unused(_ field: Int, _ value: UInt32) throws(PolicyWireError) {
                guard value == 0 else { throw failure(field, "\(what) field \(value) where the tag has none") }
            }
            switch tag {
            case 0:
                try unused(field, value)
                try unused(field + 4, extra)
                return .me
            case 1:
                try unused(field, value)
                try unused(field + 4, extra)
                return .any
            case 2:
                try unused(field + 4, extra)
                return .host(IPv4Address(value: value))
            case 3: return .subnet(IPv4Address(value: value), mask: IPv4Address(value: extra))
            case 4: return .dnsName(try text(field + 4, "\(what) DNS name"), address: IPv4Address(value: value))
            case 5:
                guard value < SpecialServer.allCases.count else {
                    throw failure(field, "\(what) special server \(value)")
                }
                try unused(field + 4, extra)
                return .server(SpecialServer.allCases[Int(value)])
            default:
                throw failure(tagField, "\(what) address tag \(tag)")
            }
        }

        let group = Int(load(0, as: UInt32.self))
        guard group < groups else { throw failure(0, "group \(group) of \(groups)") }
        let flags = load(20, as: UInt8.self)
        guard flags & ~1 == 0 else { throw failure(20, "flags \(flags) (only bit 0, mirrored, is defined)") }
        guard let id = IPsecGUID(bytes: Array(raw[(offset + 4)..<(offset + 20)])) else { throw failure(4, "GUID") }
        let filter = Filter(
            id: id,
            description: try text(44, "description"),
            mirrored: flags == 1,
            source: try address(28, "source"),
            destination: try address(36, "destination"),
            ipProtocol: load(21, as: UInt8.self),
            sourcePort: load(22, as: UInt16.self),
            destinationPort: load(24, as: UInt16.self)
        )
        return (group, filter)
    }
}
