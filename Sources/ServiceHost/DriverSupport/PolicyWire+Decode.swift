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
        case version: return try decodeVersion3(&reader)
        case 1, 2: return try decodeVersion1or2(&reader, version: found)
        default: throw reader.error("policy table version \(found), expected \(version)", back: 2)
        }
    }

    private static func decodeVersion3(_ reader: inout WireReader) throws(PolicyWireError) -> EffectivePolicy {
        let decoder = JSONDecoder()
        var policy: EffectivePolicy = try reader.json(decoder, "the policy")
        guard policy.filters.isEmpty else { throw reader.error("the policy carries filters outside the records") }

        let contextCount = try reader.count("contexts", bytesEach: 4)
        var contexts: [EffectiveFilter] = []
        contexts.reserveCapacity(contextCount)
        for _ in 0..<contextCount { contexts.append(try reader.json(decoder, "a filter context")) }

        let provenanceCount = try reader.count("provenances", bytesEach: WireReader.minimumProvenanceSize)
        var provenances: [Provenance] = []
        provenances.reserveCapacity(provenanceCount)
        for _ in 0..<provenanceCount { provenances.append(try reader.provenance()) }

        let stringCount = try reader.count("strings", bytesEach: 4)
        var strings: [String] = []
        strings.reserveCapacity(stringCount)
        for _ in 0..<stringCount { strings.append(try reader.string()) }

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
