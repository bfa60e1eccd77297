import FoundationEssentials
public import PolicyModel

/// The effective policy in the compact form the agent hands to the driver process and the driver keeps
/// as its last accepted table: 100,000 filters in a few megabytes, encoded and decoded in tens of
/// milliseconds (JSON would take seconds).
///
/// A policy's filters share few *contexts* (actions, connection type, tunnel, provenance, keying
/// settings: everything of an ``EffectiveFilter`` but its ``Filter``), so those are written once, as
/// JSON — every field the model has or gains travels without this file changing — and each filter as a
/// fixed binary record naming its context. The policy's other fields (generation, and whatever else
/// it carries) travel as JSON of the policy without its filters.
///
/// Layout (integers little-endian): `IPSP`, u16 version, u32 + JSON of the policy without filters,
/// u32 context count, each u32 + JSON of an ``EffectiveFilter`` whose filter is a placeholder, u32
/// filter count, then per filter: u32 context, 16 GUID bytes, u8 flags (bit 0 mirrored), source and
/// destination addresses (u8 tag + value), u8 protocol, u16 source port, u16 destination port, u32 +
/// UTF-8 description.
public enum PolicyWire {
    static let magic: [UInt8] = Array("IPSP".utf8)
    static let version: UInt16 = 1
    /// What a context carries in place of its filters' own filter.
    static let placeholder = Filter(id: .zero, source: .any, destination: .any)

    /// The bytes of `policy`.
    /// - Throws: an `EncodingError` when a context cannot be encoded (cannot happen for model values).
    public static func encode(_ policy: EffectivePolicy) throws -> [UInt8] {
        var writer = WireWriter(capacity: 64 + policy.filters.count * 44)
        writer.bytes(magic)
        writer.u16(version)
        var shell = policy
        shell.filters = []
        let encoder = JSONEncoder()
        writer.blob(Array(try encoder.encode(shell)))

        // Contexts: the last few seen are compared first (filters of one rule come in a row), then a table.
        var contexts: [EffectiveFilter] = []
        var index: [EffectiveFilter: UInt32] = [:]
        var recent: [(EffectiveFilter, UInt32)] = []
        var references: [UInt32] = []
        references.reserveCapacity(policy.filters.count)
        for effective in policy.filters {
            var context = effective
            context.filter = placeholder
            if let hit = recent.first(where: { $0.0 == context }) {
                references.append(hit.1)
                continue
            }
            let number: UInt32
            if let known = index[context] {
                number = known
            } else {
                number = UInt32(contexts.count)
                contexts.append(context)
                index[context] = number
            }
            if recent.count == 8 { recent.removeFirst() }
            recent.append((context, number))
            references.append(number)
        }
        writer.u32(UInt32(contexts.count))
        for context in contexts { writer.blob(Array(try encoder.encode(context))) }

        writer.u32(UInt32(policy.filters.count))
        for (position, effective) in policy.filters.enumerated() {
            let filter = effective.filter
            writer.u32(references[position])
            writer.bytes(filter.id.bytes)
            writer.u8(filter.mirrored ? 1 : 0)
            writer.address(filter.source)
            writer.address(filter.destination)
            writer.u8(filter.ipProtocol)
            writer.u16(filter.sourcePort)
            writer.u16(filter.destinationPort)
            writer.string(filter.description)
        }
        return writer.buffer
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
            guard found == version else { throw reader.error("policy table version \(found), expected \(version)") }
            let decoder = JSONDecoder()
            var policy: EffectivePolicy = try reader.json(decoder, "the policy")
            let contextCount = Int(try reader.u32())
            guard contextCount <= reader.remaining else { throw reader.error("\(contextCount) contexts") }
            var contexts: [EffectiveFilter] = []
            contexts.reserveCapacity(contextCount)
            for _ in 0..<contextCount { contexts.append(try reader.json(decoder, "a filter context")) }
            let count = Int(try reader.u32())
            // Each record is at least 32 bytes: a count beyond that is a lie, not a reason to allocate.
            guard count <= reader.remaining / 32 else {
                throw reader.error("\(count) filters in \(reader.remaining) bytes")
            }
            var filters: [EffectiveFilter] = []
            filters.reserveCapacity(count)
            for _ in 0..<count {
                let context = Int(try reader.u32())
                guard context < contexts.count else { throw reader.error("context \(context) of \(contexts.count)") }
                guard let id = IPsecGUID(bytes: Array(try reader.bytes(16))) else { throw reader.error("GUID") }
                let flags = try reader.u8()
                let source = try reader.address()
                let destination = try reader.address()
                let ipProtocol = try reader.u8()
                let sourcePort = try reader.u16()
                let destinationPort = try reader.u16()
                let description = try reader.string()
                var effective = contexts[context]
                effective.filter = Filter(
                    id: id,
                    description: description,
                    mirrored: flags & 1 != 0,
                    source: source,
                    destination: destination,
                    ipProtocol: ipProtocol,
                    sourcePort: sourcePort,
                    destinationPort: destinationPort
                )
                filters.append(effective)
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
        buffer.append(UInt8(truncatingIfNeeded: value))
        buffer.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    mutating func u32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { buffer.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
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
