/// An IPv4 address or mask held in host byte order (`198.18.0.1` is `0xC612_0001`).
public struct IPv4Address: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    /// The address as a host-order integer.
    public var value: UInt32

    public static let any = IPv4Address(value: 0)
    public static let broadcast = IPv4Address(value: 0xFFFF_FFFF)

    public init(value: UInt32) {
        self.value = value
    }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text (`198.18.0.1`); `nil` for anything else, including leading zeros' octal forms.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var result: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                let octet = UInt32(part), octet <= 255
            else { return nil }
            result = result << 8 | octet
        }
        value = result
    }

    /// The four bytes in network order, as Windows stores addresses inside blobs.
    public var networkBytes: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// Creates an address from four bytes in network order.
    public init?(networkBytes raw: some Collection<UInt8>) {
        guard raw.count == 4 else { return nil }
        value = raw.reduce(0) { $0 << 8 | UInt32($1) }
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    /// Read as a mask: the prefix length if the ones are contiguous from the top, else `nil`.
    public var prefixLength: Int? {
        let ones = value.leadingZeroBitCount == 0 ? (~value).leadingZeroBitCount : 0
        let expected: UInt32 = ones == 0 ? 0 : ~UInt32(0) << UInt32(32 - ones)
        return value == expected ? ones : nil
    }

    /// The mask with `length` leading one bits (0...32).
    public static func mask(prefixLength length: Int) -> IPv4Address {
        precondition((0...32).contains(length), "prefix length out of range")
        return IPv4Address(value: length == 0 ? 0 : ~UInt32(0) << UInt32(32 - length))
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let address = IPv4Address(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an IPv4 address: \(text)")
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
