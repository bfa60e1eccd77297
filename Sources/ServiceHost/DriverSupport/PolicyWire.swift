import FoundationEssentials
public import PolicyModel

/// The effective policy in the compact form the agent hands to the driver process and the driver keeps
/// as its last accepted table: 100,000 filters in a few megabytes, encoded and decoded in milliseconds
/// (JSON would take seconds).
///
/// A policy's filters share few *contexts* (actions, connection type, tunnel, keying settings:
/// everything of an ``EffectiveFilter`` but its ``Filter`` and its ``Provenance``), so those are written
/// once, as JSON — every field the model has or gains travels without this file changing. Provenances
/// (one per rule: as many as a thousand times fewer than filters, or as many) are written once each as
/// a binary record; each filter is a fixed binary record naming its context and its provenance. The
/// policy's other fields (generation, and whatever else it carries) travel as JSON of the policy
/// without its filters.
///
/// Layout (integers little-endian): `IPSP`, u16 version (2), u32 + JSON of the policy without filters,
/// u32 context count, each u32 + JSON of an ``EffectiveFilter`` whose filter and provenance are
/// placeholders, u32 provenance count, each a provenance record (u8 kind, then source, store?,
/// policy name, policy GUID?, rule name, rule GUID?, filter list name, filter list GUID?, filter action
/// name, GPO?, linked through?; a string is u32 + UTF-8, `?` is a u8 presence flag before the value),
/// u32 filter count, then per filter: u32 context, u32 provenance, 16 GUID bytes, u8 flags (bit 0
/// mirrored), source and destination addresses (u8 tag + value), u8 protocol, u16 source port, u16
/// destination port, u32 + UTF-8 description. Version 1 (no provenance table: the provenance was part of
/// each context) is still read, so that a driver updated in place loads the table saved by its
/// predecessor.
public enum PolicyWire {
    static let magic: [UInt8] = Array("IPSP".utf8)
    static let version: UInt16 = 2
    /// What a context carries in place of its filters' own filter.
    static let placeholder = Filter(id: .zero, source: .any, destination: .any)
    /// What a context carries in place of its filters' own provenance.
    static let placeholderProvenance = Provenance(kind: .local, source: "", policyName: "", ruleName: "")

    /// The bytes of `policy`.
    /// - Throws: an `EncodingError` when a context cannot be encoded (cannot happen for model values).
    public static func encode(_ policy: EffectivePolicy) throws -> [UInt8] {
        var writer = WireWriter(capacity: 64 + policy.filters.count * 48)
        writer.bytes(magic)
        writer.u16(version)
        var shell = policy
        shell.filters = []
        let encoder = JSONEncoder()
        writer.blob(Array(try encoder.encode(shell)))

        // Contexts: the last few seen are compared first (filters of one rule come in a row), then a
        // table; provenances: the previous filter's first, then a table.
        var contexts: [EffectiveFilter] = []
        var contextIndex: [EffectiveFilter: UInt32] = [:]
        var recent: [(filter: Int, context: UInt32)] = []
        var provenances: [Provenance] = []
        provenances.reserveCapacity(64)
        var provenanceIndex: [Provenance: UInt32] = [:]
        var references: [(context: UInt32, provenance: UInt32)] = []
        references.reserveCapacity(policy.filters.count)
        // By index and field: binding each element (`for effective in ...`) would copy the whole
        // filter, retaining and releasing every string and array in it, twice per filter.
        policy.filters.withUnsafeBufferPointer { filters in
            guard let first = filters.baseAddress else { return }
            for position in filters.indices {
                // Compared through pointers into the policy: an array subscript would copy the whole
                // filter (every string and array in it retained and released) at each comparison.
                let item = first + position
                let provenance: UInt32
                if position > 0, (item - 1).pointee.provenance == item.pointee.provenance,
                    let last = references.last?.provenance
                {
                    provenance = last
                } else if let known = provenanceIndex[item.pointee.provenance] {
                    provenance = known
                } else {
                    provenance = UInt32(provenances.count)
                    provenances.append(item.pointee.provenance)
                    provenanceIndex[item.pointee.provenance] = provenance
                }
                var number = UInt32.max
                for candidate in recent where sameContext((first + candidate.filter).pointee, item.pointee) {
                    number = candidate.context
                    break
                }
                if number == UInt32.max {
                    var context = item.pointee
                    context.filter = placeholder
                    context.provenance = placeholderProvenance
                    if let known = contextIndex[context] {
                        number = known
                    } else {
                        number = UInt32(contexts.count)
                        contexts.append(context)
                        contextIndex[context] = number
                    }
                    if recent.count == 4 { recent.removeFirst() }
                    recent.append((position, number))
                }
                references.append((number, provenance))
            }
        }
        writer.u32(UInt32(contexts.count))
        for context in contexts { writer.blob(Array(try encoder.encode(context))) }
        writer.u32(UInt32(provenances.count))
        for provenance in provenances { writer.provenance(provenance) }

        writer.u32(UInt32(policy.filters.count))
        policy.filters.withUnsafeBufferPointer { filters in
            guard let first = filters.baseAddress else { return }
            for position in filters.indices {
                writer.u32(references[position].context)
                writer.u32(references[position].provenance)
                writer.filter((first + position).pointee.filter)
            }
        }
        return writer.buffer
    }

    /// Whether two effective filters share their context: everything but the filter and the provenance.
    /// Field by field, without copying either (the encoder asks this once per filter; the decoder
    /// builds each filter from the same fields): `PolicyWireTests.contextFieldsAreKnown` fails when
    /// ``EffectiveFilter`` gains a field.
    static func sameContext(_ a: EffectiveFilter, _ b: EffectiveFilter) -> Bool {
        a.inboundAction == b.inboundAction && a.outboundAction == b.outboundAction
            && a.interfaceType == b.interfaceType && a.tunnelEndpoint == b.tunnelEndpoint
            && a.negotiation == b.negotiation
    }

    /// The policy in `bytes`.
    /// - Throws: ``PolicyWireError`` naming the byte offset of what does not parse.
    public static func decode(_ bytes: [UInt8]) throws(PolicyWireError) -> EffectivePolicy {
        try bytes.withUnsafeBytes { raw in Result { () throws(PolicyWireError) in try decode(raw) } }.get()
    }

    private static func decode(_ raw: UnsafeRawBufferPointer) throws(PolicyWireError) -> EffectivePolicy {
        do {
            var reader = WireReader(raw)
            guard Array(try reader.bytes(4)) == magic else { throw reader.error("not a policy table (no IPSP mark)") }
            let found = try reader.u16()
            guard found == version || found == 1 else {
                throw reader.error("policy table version \(found), expected \(version)")
            }
            let decoder = JSONDecoder()
            var policy: EffectivePolicy = try reader.json(decoder, "the policy")
            let contextCount = Int(try reader.u32())
            guard contextCount <= reader.remaining else { throw reader.error("\(contextCount) contexts") }
            var contexts: [EffectiveFilter] = []
            contexts.reserveCapacity(contextCount)
            for _ in 0..<contextCount { contexts.append(try reader.json(decoder, "a filter context")) }
            var provenances: [Provenance] = []
            if found >= 2 {
                let provenanceCount = Int(try reader.u32())
                // Each provenance record is at least 22 bytes.
                guard provenanceCount <= reader.remaining / 22 else {
                    throw reader.error("\(provenanceCount) provenances in \(reader.remaining) bytes")
                }
                provenances.reserveCapacity(provenanceCount)
                for _ in 0..<provenanceCount { provenances.append(try reader.provenance()) }
            }
            let count = Int(try reader.u32())
            // Each record is at least 32 bytes: a count beyond that is a lie, not a reason to allocate.
            guard count <= reader.remaining / 32 else {
                throw reader.error("\(count) filters in \(reader.remaining) bytes")
            }
            var filters: [EffectiveFilter] = []
            filters.reserveCapacity(count)
            // The contexts' parts apart: each filter then retains each part once (a whole context
            // taken from the array would be retained as a whole, then its parts again).
            let inbound = contexts.map(\.inboundAction)
            let outbound = contexts.map(\.outboundAction)
            let interfaces = contexts.map(\.interfaceType)
            let tunnels = contexts.map(\.tunnelEndpoint)
            let negotiations = contexts.map(\.negotiation)
            for _ in 0..<count {
                let context = Int(try reader.u32())
                guard context < contexts.count else { throw reader.error("context \(context) of \(contexts.count)") }
                if found >= 2 {
                    let provenance = Int(try reader.u32())
                    guard provenance < provenances.count else {
                        throw reader.error("provenance \(provenance) of \(provenances.count)")
                    }
                    filters.append(
                        EffectiveFilter(
                            filter: try reader.filter(),
                            inboundAction: inbound[context],
                            outboundAction: outbound[context],
                            interfaceType: interfaces[context],
                            tunnelEndpoint: tunnels[context],
                            provenance: provenances[provenance],
                            negotiation: negotiations[context]
                        )
                    )
                } else {
                    var effective = contexts[context]
                    effective.filter = try reader.filter()
                    filters.append(effective)
                }
            }
            guard reader.remaining == 0 else { throw reader.error("\(reader.remaining) bytes after the last filter") }
            policy.filters = filters
            return policy
        }
    }
}

/// A policy table that does not parse: what, and at which byte.
public struct PolicyWireError: Error, Hashable, Sendable, CustomStringConvertible {
    public var offset: Int
    public var message: String

    public var description: String { "policy table, byte \(offset): \(message)" }
}

/// Appends little-endian fields to a byte buffer.
struct WireWriter {
    var buffer: [UInt8] = []

    init(capacity: Int) { buffer.reserveCapacity(capacity) }

    mutating func u8(_ value: UInt8) { buffer.append(value) }

    mutating func u16(_ value: UInt16) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }

    mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }

    mutating func bytes(_ value: [UInt8]) { buffer.append(contentsOf: value) }

    /// A length (u32) and the bytes.
    mutating func blob(_ value: [UInt8]) {
        u32(UInt32(value.count))
        buffer.append(contentsOf: value)
    }

    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            u32(UInt32(utf8.count))
            buffer.append(contentsOf: utf8)
        }
    }

    /// A u8 presence flag, then the text when present.
    mutating func optionalString(_ value: String?) {
        u8(value == nil ? 0 : 1)
        if let value { string(value) }
    }

    /// A u8 presence flag, then the 16 bytes when present.
    mutating func optionalGUID(_ value: IPsecGUID?) {
        u8(value == nil ? 0 : 1)
        if let value { bytes(value.bytes) }
    }

    /// A filter record after its context and provenance numbers (layout: ``PolicyWire``).
    mutating func filter(_ filter: Filter) {
        bytes(filter.id.bytes)
        u8(filter.mirrored ? 1 : 0)
        address(filter.source)
        address(filter.destination)
        u8(filter.ipProtocol)
        u16(filter.sourcePort)
        u16(filter.destinationPort)
        string(filter.description)
    }

    /// A ``Provenance`` record (layout: ``PolicyWire``).
    mutating func provenance(_ value: Provenance) {
        u8(UInt8(SourceKind.allCases.firstIndex(of: value.kind)!))
        string(value.source)
        optionalString(value.store)
        string(value.policyName)
        optionalGUID(value.policyID)
        string(value.ruleName)
        optionalGUID(value.ruleID)
        string(value.filterListName)
        optionalGUID(value.filterListID)
        string(value.filterActionName)
        optionalString(value.gpo)
        optionalString(value.linkedThrough)
    }

    mutating func address(_ address: FilterAddress) {
        switch address {
        case .me: u8(0)
        case .any: u8(1)
        case .host(let ip):
            u8(2)
            u32(ip.value)
        case .subnet(let ip, let mask):
            u8(3)
            u32(ip.value)
            u32(mask.value)
        case .dnsName(let name, let ip):
            u8(4)
            u32(ip.value)
            string(name)
        case .server(let server):
            u8(5)
            u8(UInt8(SpecialServer.allCases.firstIndex(of: server)!))
        }
    }
}

/// Reads what ``WireWriter`` wrote, every read bounds-checked.
struct WireReader {
    let raw: UnsafeRawBufferPointer
    var offset = 0

    init(_ raw: UnsafeRawBufferPointer) { self.raw = raw }

    var remaining: Int { raw.count - offset }

    func error(_ message: String) -> PolicyWireError { PolicyWireError(offset: offset, message: message) }

    mutating func bytes(_ count: Int) throws(PolicyWireError) -> Slice<UnsafeRawBufferPointer> {
        guard count >= 0, count <= remaining else { throw error("\(count) bytes wanted, \(remaining) left") }
        defer { offset += count }
        return raw[offset..<offset + count]
    }

    mutating func u8() throws(PolicyWireError) -> UInt8 {
        guard remaining >= 1 else { throw error("truncated") }
        defer { offset += 1 }
        return raw[offset]
    }

    mutating func u16() throws(PolicyWireError) -> UInt16 {
        guard remaining >= 2 else { throw error("truncated") }
        defer { offset += 2 }
        return UInt16(raw[offset]) | UInt16(raw[offset + 1]) << 8
    }

    mutating func u32() throws(PolicyWireError) -> UInt32 {
        guard remaining >= 4 else { throw error("truncated") }
        defer { offset += 4 }
        return UInt32(raw[offset]) | UInt32(raw[offset + 1]) << 8 | UInt32(raw[offset + 2]) << 16
            | UInt32(raw[offset + 3]) << 24
    }

    mutating func string() throws(PolicyWireError) -> String {
        let count = Int(try u32())
        if count == 0 { return "" }
        let slice = try bytes(count)
        guard let text = String(validating: UnsafeRawBufferPointer(rebasing: slice), as: UTF8.self) else {
            throw error("text that is not UTF-8")
        }
        return text
    }

    mutating func optionalString() throws(PolicyWireError) -> String? {
        try u8() == 0 ? nil : try string()
    }

    mutating func guid() throws(PolicyWireError) -> IPsecGUID {
        guard let id = IPsecGUID(bytes: Array(try bytes(16))) else { throw error("GUID") }
        return id
    }

    mutating func optionalGUID() throws(PolicyWireError) -> IPsecGUID? {
        try u8() == 0 ? nil : try guid()
    }

    /// A ``Provenance`` record.
    mutating func provenance() throws(PolicyWireError) -> Provenance {
        let kind = Int(try u8())
        guard kind < SourceKind.allCases.count else { throw error("source kind \(kind)") }
        return Provenance(
            kind: SourceKind.allCases[kind],
            source: try string(),
            store: try optionalString(),
            policyName: try string(),
            policyID: try optionalGUID(),
            ruleName: try string(),
            ruleID: try optionalGUID(),
            filterListName: try string(),
            filterListID: try optionalGUID(),
            filterActionName: try string(),
            gpo: try optionalString(),
            linkedThrough: try optionalString()
        )
    }

    /// A filter record after its context (and provenance) numbers.
    mutating func filter() throws(PolicyWireError) -> Filter {
        let id = try guid()
        let flags = try u8()
        let source = try address()
        let destination = try address()
        let ipProtocol = try u8()
        let sourcePort = try u16()
        let destinationPort = try u16()
        return Filter(
            id: id,
            description: try string(),
            mirrored: flags & 1 != 0,
            source: source,
            destination: destination,
            ipProtocol: ipProtocol,
            sourcePort: sourcePort,
            destinationPort: destinationPort
        )
    }

    mutating func json<T: Decodable>(_ decoder: JSONDecoder, _ what: String) throws(PolicyWireError) -> T {
        let count = Int(try u32())
        let start = offset
        let slice = try bytes(count)
        do {
            return try decoder.decode(T.self, from: Data(UnsafeRawBufferPointer(rebasing: slice)))
        } catch {
            throw PolicyWireError(offset: start, message: "\(what) does not decode: \(error)")
        }
    }

    mutating func address() throws(PolicyWireError) -> FilterAddress {
        switch try u8() {
        case 0: return .me
        case 1: return .any
        case 2: return .host(IPv4Address(value: try u32()))
        case 3:
            let ip = IPv4Address(value: try u32())
            return .subnet(ip, mask: IPv4Address(value: try u32()))
        case 4:
            let ip = IPv4Address(value: try u32())
            return .dnsName(try string(), address: ip)
        case 5:
            let kind = Int(try u8())
            guard kind < SpecialServer.allCases.count else { throw error("special server \(kind)") }
            return .server(SpecialServer.allCases[kind])
        case let tag:
            throw error("address tag \(tag)")
        }
    }
}
