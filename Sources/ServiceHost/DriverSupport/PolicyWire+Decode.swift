import FoundationEssentials
public import PolicyModel

extension PolicyWire {
    /// The policy in `bytes`. Total: any bytes give a policy or an error, never a trap, and no count is
    /// believed beyond what the bytes can hold.
    /// - Throws: ``PolicyWireError`` naming the byte offset and the field of what does not parse.
    public static func decode(_ bytes: [UInt8]) throws(PolicyWireError) -> EffectivePolicy {
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

        var provenances: [Provenance] = []
        if version == 3 {
            let provenanceCount = try reader.count("provenances", bytesEach: WireReader.minimumProvenanceSize)
            provenances.reserveCapacity(provenanceCount)
            for _ in 0..<provenanceCount { provenances.append(try reader.provenance()) }
        }

        let stringCount = try reader.count("strings", bytesEach: 4)
        var strings: [String] = []
        if version == 3 {
            strings.reserveCapacity(stringCount)
            for _ in 0..<stringCount { strings.append(try reader.string()) }
        } else {
            strings = try reader.stringTable(count: stringCount)
            let provenanceCount = try reader.count("provenances", bytesEach: provenanceSize)
            let records = try reader.bytes(provenanceCount * provenanceSize)
            let provenanceReader = ProvenanceReader(
                raw: UnsafeRawBufferPointer(rebasing: records),
                base: records.startIndex,
                strings: strings
            )
            provenances.reserveCapacity(provenanceCount)
            for number in 0..<provenanceCount { provenances.append(try provenanceReader.provenance(number)) }
        }

        // One shared context per group: each filter then holds its group's box, nothing of its own.
        let groupCount = try reader.count("groups", bytesEach: 8)
        var templates: [EffectiveFilter] = []
        templates.reserveCapacity(groupCount)
        for number in 0..<groupCount {
            let context = Int(try reader.u32())
            guard context < contexts.count else {
                throw reader.error("group \(number): context \(context) of \(contexts.count)", back: 4)
            }
            let provenance = Int(try reader.u32())
            guard provenance < provenances.count else {
                throw reader.error("group \(number): provenance \(provenance) of \(provenances.count)", back: 4)
            }
            var template = contexts[context]
            template.provenance = provenances[provenance]
            templates.append(template)
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
        let start = records.startIndex
        let recordReader = RecordReader(
            raw: UnsafeRawBufferPointer(rebasing: records),
            base: start,
            strings: strings,
            groups: templates.count
        )
        for number in 0..<count {
            let (group, filter) = try recordReader.filter(number)
            filters.append(templates[group].with(filter: filter))
        }
        policy.filters = filters
        return policy
    }
}

/// Reads the fixed provenance records of version 4 (layout: ``PolicyWire``), checking every field.
private struct ProvenanceReader {
    let raw: UnsafeRawBufferPointer
    /// The offset of the first record in the table, for errors.
    let base: Int
    let strings: [String]

    func provenance(_ number: Int) throws(PolicyWireError) -> Provenance {
        let offset = number * PolicyWire.provenanceSize
        func load<T: FixedWidthInteger>(_ field: Int, as: T.Type) -> T {
            T(littleEndian: raw.loadUnaligned(fromByteOffset: offset + field, as: T.self))
        }
        func failure(_ field: Int, _ message: String) -> PolicyWireError {
            PolicyWireError(offset: base + offset + field, message: "provenance \(number): \(message)")
        }
        let presence = load(1, as: UInt8.self)
        func text(_ field: Int, _ what: String) throws(PolicyWireError) -> String {
            let index = Int(load(field, as: UInt32.self))
            guard index < strings.count else { throw failure(field, "\(what) string \(index) of \(strings.count)") }
            return strings[index]
        }
        func text(_ field: Int, _ what: String, bit: UInt8) throws(PolicyWireError) -> String? {
            if presence & 1 << bit != 0 { return try text(field, what) }
            let index = load(field, as: UInt32.self)
            guard index == 0 else { throw failure(field, "\(what) string \(index) where it is absent") }
            return nil
        }
        func guid(_ field: Int, _ what: String, bit: UInt8) throws(PolicyWireError) -> IPsecGUID? {
            let id = IPsecGUID(
                high: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + field, as: UInt64.self)),
                low: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + field + 8, as: UInt64.self))
            )
            if presence & 1 << bit != 0 { return id }
            guard id == .zero else { throw failure(field, "\(what) GUID where it is absent") }
            return nil
        }
        let kind = Int(load(0, as: UInt8.self))
        guard kind < SourceKind.allCases.count else { throw failure(0, "source kind \(kind)") }
        guard presence & ~0x3F == 0 else { throw failure(1, "presence bits \(presence) (only bits 0–5 are defined)") }
        let reserved = load(2, as: UInt16.self)
        guard reserved == 0 else { throw failure(2, "reserved field \(reserved)") }
        return Provenance(
            kind: SourceKind.allCases[kind],
            source: try text(4, "source"),
            store: try text(8, "store", bit: 0),
            policyName: try text(12, "policy name"),
            policyID: try guid(36, "policy", bit: 1),
            ruleName: try text(16, "rule name"),
            ruleID: try guid(52, "rule", bit: 2),
            filterListName: try text(20, "filter list name"),
            filterListID: try guid(68, "filter list", bit: 3),
            filterActionName: try text(24, "filter action name"),
            gpo: try text(28, "GPO", bit: 4),
            linkedThrough: try text(32, "linked through", bit: 5)
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
