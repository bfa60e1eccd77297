/// A GUID as Windows IPsec objects use it: `ipsecID`, `<class>{GUID}` names, blob type ids.
///
/// Held inline as two 64-bit halves of the canonical (RFC 4122 text order) bytes, big-endian, so a
/// GUID costs no heap allocation: a 100,000-filter store has one per filter, and an array per GUID
/// was 100,000 allocations of 64 bytes each (Benchmarks/README.md §4). Equality, hashing and order
/// are those of the 16 bytes in text order. ``windowsBytes`` gives the mixed-endian layout that
/// Windows writes inside `ipsecData` blobs (Data1/Data2/Data3 little-endian).
public struct IPsecGUID: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    /// Bytes 0–7 in text order, the first one most significant: `00112233-4455-6677-…` is
    /// `0x0011_2233_4455_6677`.
    public let high: UInt64
    /// Bytes 8–15 in text order, the first one most significant.
    public let low: UInt64

    /// The all-zero GUID.
    public static let zero = IPsecGUID(high: 0, low: 0)

    /// The GUID whose text-order bytes are `high`'s eight then `low`'s eight, most significant first.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The 16 bytes in text order: `00112233-4455-6677-8899-aabbccddeeff` is `[0x00, 0x11, ...]`.
    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 16) { buffer, count in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
            count = 16
        }
    }

    /// Byte `index` (0–15) in text order.
    public subscript(byte index: Int) -> UInt8 {
        precondition(index >= 0 && index < 16, "a GUID has 16 bytes")
        let half = index < 8 ? high : low
        return UInt8(truncatingIfNeeded: half >> (56 - 8 * UInt64(index & 7)))
    }

    /// Creates a GUID from 16 bytes in text order; `nil` for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        let halves = bytes.withUnsafeBytes { raw in
            (
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            )
        }
        self.init(high: halves.0, low: halves.1)
    }

    /// Parses `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}`, with or without braces, in any letter case.
    public init?(_ text: some StringProtocol) {
        var hex = Substring(text)
        if hex.hasPrefix("{") {
            guard hex.hasSuffix("}") else { return nil }
            hex = hex.dropFirst().dropLast()
        }
        let groups = hex.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return nil }
        let digits = Array(groups.joined().utf8)
        var halves: (UInt64, UInt64) = (0, 0)
        for (index, digit) in digits.enumerated() {
            guard let value = Self.hexDigitValue(digit) else { return nil }
            if index < 16 { halves.0 = halves.0 << 4 | UInt64(value) } else { halves.1 = halves.1 << 4 | UInt64(value) }
        }
        self.init(high: halves.0, low: halves.1)
    }

    /// Creates a GUID from the 16-byte mixed-endian layout found in Windows binary data.
    public init?(windowsBytes raw: some Collection<UInt8>) {
        let b = Array(raw)
        guard b.count == 16 else { return nil }
        self.init(bytes: [b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6]] + b[8..<16])
    }

    /// The mixed-endian 16-byte layout that Windows writes in binary data.
    public var windowsBytes: [UInt8] {
        let b = bytes
        return [b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6]] + b[8..<16]
    }

    /// A new random (version 4) GUID.
    public static func random() -> IPsecGUID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// A new random (version 4) GUID drawn from `generator` (deterministic in tests: the same draws,
    /// byte by byte, as ever, so a seeded generator gives the GUIDs it always gave).
    public static func random(using generator: inout some RandomNumberGenerator) -> IPsecGUID {
        var b = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        return IPsecGUID(bytes: b)!
    }

    /// Lower-case text without braces: `00112233-4455-6677-8899-aabbccddeeff`.
    public var plain: String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            var out = 0
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    buffer[out] = UInt8(ascii: "-")
                    out += 1
                }
                let byte = self[byte: index]
                buffer[out] = Self.hexDigit(byte >> 4)
                buffer[out + 1] = Self.hexDigit(byte & 0x0F)
                out += 2
            }
            return out
        }
    }

    /// Lower-case text in braces, the form used in registry key names and `ipsecID`.
    public var braced: String { "{" + plain + "}" }

    public var description: String { braced }

    public static func < (lhs: IPsecGUID, rhs: IPsecGUID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = IPsecGUID(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a GUID: \(text)")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(braced)
    }

    /// The value of one hexadecimal digit (either letter case), `nil` for any other byte; the native
    /// XML reader parses GUID attributes from raw bytes with it too.
    package static func hexDigitValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The lower-case hexadecimal digit of a nibble (0–15); the native XML writer spells GUIDs with it.
    package static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}
