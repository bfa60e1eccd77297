/// A GUID as Windows IPsec objects use it: `ipsecID`, `<class>{GUID}` names, blob type ids.
///
/// Stored in the canonical (RFC 4122 text order) byte order; ``windowsBytes`` gives the mixed-endian
/// layout that Windows writes inside `ipsecData` blobs (Data1/Data2/Data3 little-endian).
public struct IPsecGUID: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    /// The 16 bytes in text order: `00112233-4455-6677-8899-aabbccddeeff` is `[0x00, 0x11, ...]`.
    public let bytes: [UInt8]

    /// The all-zero GUID.
    public static let zero = IPsecGUID(validatedBytes: [UInt8](repeating: 0, count: 16))

    private init(validatedBytes: [UInt8]) {
        self.bytes = validatedBytes
    }

    /// Creates a GUID from 16 bytes in text order; `nil` for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
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
        var result: [UInt8] = []
        result.reserveCapacity(16)
        let digits = Array(groups.joined().utf8)
        var index = 0
        while index < digits.count {
            guard let high = Self.hexDigitValue(digits[index]), let low = Self.hexDigitValue(digits[index + 1]) else {
                return nil
            }
            result.append(high << 4 | low)
            index += 2
        }
        self.bytes = result
    }

    /// Creates a GUID from the 16-byte mixed-endian layout found in Windows binary data.
    public init?(windowsBytes raw: some Collection<UInt8>) {
        let b = Array(raw)
        guard b.count == 16 else { return nil }
        self.bytes = [b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6]] + b[8..<16]
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

    /// A new random (version 4) GUID drawn from `generator` (deterministic in tests).
    public static func random(using generator: inout some RandomNumberGenerator) -> IPsecGUID {
        var b = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        return IPsecGUID(validatedBytes: b)
    }

    /// Lower-case text without braces: `00112233-4455-6677-8899-aabbccddeeff`.
    public var plain: String {
        var out = ""
        for (index, byte) in bytes.enumerated() {
            if [4, 6, 8, 10].contains(index) { out += "-" }
            out += Self.hex(byte)
        }
        return out
    }

    /// Lower-case text in braces, the form used in registry key names and `ipsecID`.
    public var braced: String { "{" + plain + "}" }

    public var description: String { braced }

    public static func < (lhs: IPsecGUID, rhs: IPsecGUID) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
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

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}
