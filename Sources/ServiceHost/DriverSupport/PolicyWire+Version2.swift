import FoundationEssentials
import PolicyModel

extension PolicyWire {
    /// A table of version 1 or 2, as a driver before version 3 saved it: after the policy's JSON, the
    /// contexts (version 1: each with its provenance), version 2: the provenance records, then u32
    /// filter count and per filter u32 context, (version 2:) u32 provenance, 16 GUID bytes, u8 flags
    /// (bit 0 mirrored), source and destination addresses (u8 tag + value), u8 protocol, u16 source
    /// port, u16 destination port, u32 + UTF-8 description.
    static func decodeVersion1or2(
        _ reader: inout WireReader,
        version: UInt16
    ) throws(PolicyWireError) -> EffectivePolicy {
        let decoder = JSONDecoder()
        var policy: EffectivePolicy = try reader.json(decoder, "the policy")
        let contextCount = try reader.count("contexts", bytesEach: 4)
        var contexts: [EffectiveFilter] = []
        contexts.reserveCapacity(contextCount)
        for _ in 0..<contextCount { contexts.append(try reader.json(decoder, "a filter context")) }
        var provenances: [Provenance] = []
        if version >= 2 {
            let provenanceCount = try reader.count("provenances", bytesEach: WireReader.minimumProvenanceSize)
            provenances.reserveCapacity(provenanceCount)
            for _ in 0..<provenanceCount { provenances.append(try reader.provenance()) }
        }
        // Each record is at least 32 bytes: a count beyond that is a lie, not a reason to allocate.
        let count = try reader.count("filters", bytesEach: 32)
        var filters: [EffectiveFilter] = []
        filters.reserveCapacity(count)
        // One shared context per (context, provenance) pair, built when first named.
        var templates: [UInt64: EffectiveFilter] = [:]
        for _ in 0..<count {
            let context = Int(try reader.u32())
            guard context < contexts.count else { throw reader.error("context \(context) of \(contexts.count)") }
            var provenance = -1
            if version >= 2 {
                provenance = Int(try reader.u32())
                guard provenance < provenances.count else {
                    throw reader.error("provenance \(provenance) of \(provenances.count)")
                }
            }
            let key = UInt64(context) << 32 | UInt64(UInt32(bitPattern: Int32(provenance)))
            let template: EffectiveFilter
            if let known = templates[key] {
                template = known
            } else {
                var made = contexts[context]
                if provenance >= 0 { made.provenance = provenances[provenance] }
                templates[key] = made
                template = made
            }
            filters.append(template.with(filter: try reader.filter()))
        }
        guard reader.remaining == 0 else { throw reader.error("\(reader.remaining) bytes after the last filter") }
        policy.filters = filters
        return policy
    }
}
