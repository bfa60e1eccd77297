import PolicyModel

/// Where a blob came from, so that every decoding error names the file, the object (registry key or
/// DN) and, for text formats, the line that held the blob.
public struct BlobContext: Hashable, Sendable {
    public var file: String
    public var object: String
    public var line: Int?

    public init(file: String, object: String, line: Int? = nil) {
        self.file = file
        self.object = object
        self.line = line
    }

    /// An error about `field` at byte `offset` of the blob.
    func error(_ field: String, at offset: Int, _ message: String) -> PolicyFormatError {
        PolicyFormatError(
            file: file,
            line: line,
            object: object,
            field: "ipsecData." + field,
            byteOffset: offset,
            message: message
        )
    }
}

/// Reads little-endian fields from an `ipsecData` blob, checking every length against what is left.
struct BlobCursor {
    let bytes: [UInt8]
    private(set) var offset: Int
    let context: BlobContext

    init(_ bytes: [UInt8], context: BlobContext, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
        self.context = context
    }

    var remaining: Int { bytes.count - offset }

    /// Fails unless `count` more bytes are present.
    func need(_ count: Int, for field: String) throws(PolicyFormatError) {
        guard count <= remaining else {
            throw context.error(
                field,
                at: offset,
                "blob is truncated: \(field) needs \(count) bytes but only \(remaining) remain"
            )
        }
    }

    /// Fails unless a count of `count` elements of at least `size` bytes each can fit in what is left,
    /// which keeps a corrupted count from driving a long loop or a large allocation.
    func needCount(_ count: UInt32, elementSize size: Int, for field: String) throws(PolicyFormatError) {
        guard UInt64(count) * UInt64(size) <= UInt64(remaining) else {
            throw context.error(
                field,
                at: offset - 4,
                "count \(count) is larger than the data: \(count) × \(size) bytes needed, \(remaining) remain"
            )
        }
    }

    mutating func take(_ count: Int, _ field: String) throws(PolicyFormatError) -> ArraySlice<UInt8> {
        try need(count, for: field)
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    mutating func skip(_ count: Int, _ field: String) throws(PolicyFormatError) {
        _ = try take(count, field)
    }

    mutating func u8(_ field: String) throws(PolicyFormatError) -> UInt8 {
        try take(1, field).first!
    }

    mutating func u16(_ field: String) throws(PolicyFormatError) -> UInt16 {
        let b = try take(2, field)
        return UInt16(b[b.startIndex]) | UInt16(b[b.startIndex + 1]) << 8
    }

    mutating func u32(_ field: String) throws(PolicyFormatError) -> UInt32 {
        let b = try take(4, field)
        return b.reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// A GUID in the Windows mixed-endian layout.
    mutating func guid(_ field: String) throws(PolicyFormatError) -> IPsecGUID {
        IPsecGUID(windowsBytes: try take(16, field))!
    }

    /// An IPv4 address stored in network order (the exception to little-endian, windows-ipsec.md §3.0).
    mutating func ipv4(_ field: String) throws(PolicyFormatError) -> IPv4Address {
        IPv4Address(networkBytes: try take(4, field))!
    }

    /// A length-prefixed UTF-16LE string whose length counts bytes including the NUL terminator.
    /// A length of 0 reads as empty; trailing NULs are dropped.
    mutating func string(_ field: String) throws(PolicyFormatError) -> String {
        let lengthOffset = offset
        let length = try u32(field + " length")
        guard UInt64(length) <= UInt64(remaining) else {
            throw context.error(
                field,
                at: lengthOffset,
                "string length \(length) is larger than the data (\(remaining) bytes remain)"
            )
        }
        guard length % 2 == 0 else {
            throw context.error(field, at: lengthOffset, "UTF-16 string has an odd byte length (\(length))")
        }
        let start = offset
        let raw = try take(Int(length), field)
        var units = UTF16LE.units(raw)
        while units.last == 0 { units.removeLast() }
        guard let text = String(validating: units, as: UTF16.self) else {
            throw context.error(field, at: start, "string is not valid UTF-16 (unpaired surrogate)")
        }
        return text
    }

    /// Checks the 16-byte blob type at the start and reads DataLength, which is only informative: Windows
    /// writers disagree about it, so readers parse by counts (windows-ipsec.md §3.0).
    mutating func header(expecting type: BlobType) throws(PolicyFormatError) {
        let found = try guid("BlobTypeID")
        guard found == type.guid else {
            let name = BlobType.allCases.first { $0.guid == found }.map { " (the \($0.objectClass.rawValue) type)" }
            throw context.error(
                "BlobTypeID",
                at: 0,
                "blob type \(found.braced.uppercased())\(name ?? ", unknown") where \(type.objectClass.rawValue) data \(type.guid.braced.uppercased()) was expected"
            )
        }
        _ = try u32("DataLength")
    }

    /// Accepts the end of a blob: nothing, or the single 0x00 pad that 2000/XP/2003 writers add.
    func finish() throws(PolicyFormatError) {
        switch remaining {
        case 0:
            return
        case 1 where bytes[offset] == 0:
            return
        default:
            throw context.error(
                "pad",
                at: offset,
                "\(remaining) unexpected byte(s) after the data (expected at most one 0x00 pad byte)"
            )
        }
    }
}

/// Builds a blob: little-endian integers, network-order addresses, counted UTF-16 strings.
struct BlobWriter {
    private(set) var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { bytes += [UInt8(value & 0xFF), UInt8(value >> 8)] }
    mutating func u32(_ value: UInt32) {
        bytes += [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)]
    }
    mutating func zeros(_ count: Int) { bytes += [UInt8](repeating: 0, count: count) }
    mutating func guid(_ value: IPsecGUID) { bytes += value.windowsBytes }
    mutating func ipv4(_ value: IPv4Address) { bytes += value.networkBytes }
    mutating func append(_ other: [UInt8]) { bytes += other }

    /// Length (bytes, including the NUL) then UTF-16LE text then the NUL; empty text is length 2.
    mutating func string(_ text: String) {
        let encoded = UTF16LE.bytes(text.utf16) + [0, 0]
        u32(UInt32(encoded.count))
        append(encoded)
    }

    /// The Windows Server 2003 framing: type, DataLength, payload, one 0x00 pad byte.
    static func frame(_ type: BlobType, dataLength: Int, payload: [UInt8]) -> [UInt8] {
        var writer = BlobWriter()
        writer.guid(type.guid)
        writer.u32(UInt32(dataLength))
        writer.append(payload)
        writer.u8(0)
        return writer.bytes
    }
}
