import FoundationEssentials
import PolicyModel

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
    mutating func blob(_ value: some Collection<UInt8>) {
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

    /// The smallest provenance record: a kind, five empty strings, six absent optionals.
    static let minimumProvenanceSize = 1 + 5 * 4 + 6

    /// An error at the current offset, or `back` bytes before it (the field just read).
    func error(_ message: String, back: Int = 0) -> PolicyWireError {
        PolicyWireError(offset: offset - back, message: message)
    }

    /// A u32 count of entries each at least `bytesEach` long: a count the remaining bytes cannot hold
    /// is refused before anything is allocated for it.
    mutating func count(_ what: String, bytesEach: Int) throws(PolicyWireError) -> Int {
        let count = Int(try u32())
        guard count <= remaining / bytesEach else {
            throw error("\(count) \(what) in \(remaining) bytes", back: 4)
        }
        return count
    }

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
        let start = offset
        let units = UnsafeRawBufferPointer(rebasing: try bytes(count)).assumingMemoryBound(to: UInt8.self)
        return try Self.text(units, at: start)
    }

    /// `units` as a text, or an error at `offset` when they are not UTF-8. `String(decoding:)` on
    /// contiguous bytes is the fast path; the generic `String(validating:)` was a third of the decode of
    /// a 100,000-rule table (`perf`). It repairs bad UTF-8, so a text whose bytes do not come back
    /// unchanged was not UTF-8; `ascii` bytes (none with the high bit set) need no such check.
    private static func text(
        _ units: UnsafeBufferPointer<UInt8>,
        at offset: Int,
        ascii: Bool = false
    ) throws(PolicyWireError) -> String {
        var text = String(decoding: units, as: UTF8.self)
        guard ascii || text.withUTF8({ $0.elementsEqual(units) }) else {
            throw PolicyWireError(offset: offset, message: "text that is not UTF-8")
        }
        return text
    }

    /// The string table of version 4: `count` texts, the first one empty and none twice (each distinct
    /// text is written once; a table that repeats one is not one this encoder wrote).
    ///
    /// A table of 100,000 rules has 200,000 texts of their own (rule and filter list names). Repeats are
    /// found by sorting a 64-bit hash of each text's bytes: equal texts have equal hashes, so only when
    /// two hashes are equal (a repeat, or a collision) are the texts compared. A `Set<String>` was a
    /// third of the whole decode, and a hash table probed at random (4 MB at 200,000 texts) still about
    /// an eighth of a restart, nearly all of it waiting for memory (`perf`); the sort reads and writes
    /// in order. A text of ASCII bytes needs no check that it came back unchanged.
    mutating func stringTable(count: Int) throws(PolicyWireError) -> [String] {
        var strings: [String] = []
        strings.reserveCapacity(count)
        // Each text's bytes: offset << 32 | length (a table is under 4 GiB: DriverLink's limit).
        var spans: [UInt64] = []
        spans.reserveCapacity(count)
        var hashes: [UInt64] = []
        hashes.reserveCapacity(count)
        for number in 0..<count {
            let start = offset
            let length = Int(try u32())
            let units = UnsafeRawBufferPointer(rebasing: try bytes(length)).assumingMemoryBound(to: UInt8.self)
            // FNV-1a over the bytes, and whether any has its high bit set (then not ASCII).
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            var high: UInt8 = 0
            for unit in units {
                hash = (hash ^ UInt64(unit)) &* 0x0000_0100_0000_01b3
                high |= unit
            }
            hashes.append(hash)
            spans.append(UInt64(offset - length) << 32 | UInt64(length))
            if number == 0 {
                guard length == 0 else { throw PolicyWireError(offset: start, message: "string 0 is not empty") }
            }
            strings.append(try Self.text(units, at: start + 4, ascii: high & 0x80 == 0))
        }
        hashes.sort()
        if zip(hashes, hashes.dropFirst()).contains(where: { $0 == $1 }) {
            try Self.refuseRepeat(spans, in: raw)
        }
        return strings
    }

    /// Throws for the first text of `spans` (offset << 32 | length in `raw`) whose bytes an earlier one
    /// has; returns when none has (the equal hashes were a collision). Only run when two texts' hashes
    /// are equal.
    private static func refuseRepeat(_ spans: [UInt64], in raw: UnsafeRawBufferPointer) throws(PolicyWireError) {
        var seen: Set<[UInt8]> = []
        for (number, span) in spans.enumerated() {
            let start = Int(span >> 32)
            let text = raw[start..<start + Int(span & 0xFFFF_FFFF)]
            guard seen.insert(Array(text)).inserted else {
                throw PolicyWireError(offset: start - 4, message: "string \(number) repeats an earlier one")
            }
        }
    }

    mutating func optionalString() throws(PolicyWireError) -> String? {
        try present() ? try string() : nil
    }

    /// A presence flag: 0 or 1, nothing else.
    mutating func present() throws(PolicyWireError) -> Bool {
        let flag = try u8()
        guard flag <= 1 else { throw error("presence flag \(flag)", back: 1) }
        return flag == 1
    }

    mutating func guid() throws(PolicyWireError) -> IPsecGUID {
        guard let id = IPsecGUID(bytes: Array(try bytes(16))) else { throw error("GUID") }
        return id
    }

    mutating func optionalGUID() throws(PolicyWireError) -> IPsecGUID? {
        try present() ? try guid() : nil
    }

    /// A ``Provenance`` record.
    mutating func provenance() throws(PolicyWireError) -> Provenance {
        let kind = Int(try u8())
        guard kind < SourceKind.allCases.count else { throw error("source kind \(kind)", back: 1) }
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
