public import PolicyModel

/// The fields of an IPv4 packet the driver decides on: addresses, protocol, ports.
///
/// Ports are 0 for protocols other than TCP and UDP and for non-first fragments (they carry no
/// transport header); filters with a specific port never match port 0 (ports 0 mean "any" in
/// filters only).
public struct PacketKey: Hashable, Sendable, CustomStringConvertible {
    public var source: UInt32
    public var destination: UInt32
    public var ipProtocol: UInt8
    public var sourcePort: UInt16
    public var destinationPort: UInt16

    public init(
        source: UInt32,
        destination: UInt32,
        ipProtocol: UInt8,
        sourcePort: UInt16 = 0,
        destinationPort: UInt16 = 0
    ) {
        self.source = source
        self.destination = destination
        self.ipProtocol = ipProtocol
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }

    public init(
        source: IPv4Address,
        destination: IPv4Address,
        ipProtocol: UInt8,
        sourcePort: UInt16 = 0,
        destinationPort: UInt16 = 0
    ) {
        self.init(
            source: source.value,
            destination: destination.value,
            ipProtocol: ipProtocol,
            sourcePort: sourcePort,
            destinationPort: destinationPort
        )
    }

    /// The same flow seen from the other end (a reply).
    public var reversed: PacketKey {
        PacketKey(
            source: destination,
            destination: source,
            ipProtocol: ipProtocol,
            sourcePort: destinationPort,
            destinationPort: sourcePort
        )
    }

    public var description: String {
        let proto = IPProtocol.name(ipProtocol)
        let src = IPv4Address(value: source)
        let dst = IPv4Address(value: destination)
        if ipProtocol == IPProtocol.tcp || ipProtocol == IPProtocol.udp {
            return "\(proto) \(src):\(sourcePort) -> \(dst):\(destinationPort)"
        }
        return "\(proto) \(src) -> \(dst)"
    }
}

/// What the IPv4 header parser found.
public enum ParsedPacket: Hashable, Sendable {
    /// A complete header; `fragment` is true for non-first fragments (ports unknown, 0).
    case ipv4(PacketKey, totalLength: Int, fragment: Bool)
    /// Not IPv4 (the queue only gets IPv4; counted, accepted by the caller's rule).
    case notIPv4
    /// Too short or inconsistent to read addresses (dropped and counted).
    case malformed
}

/// Parses the start of an IPv4 packet as NFQUEUE copies it (copy range ≥ 64 bytes holds every
/// header the driver reads: 60 bytes of IPv4 header at most, then 4 bytes of ports).
///
/// Never traps on short or hostile input: every read is bounds-checked.
public func parseIPv4(_ bytes: UnsafeRawBufferPointer) -> ParsedPacket {
    guard bytes.count >= 1 else { return .malformed }
    let version = bytes[0] >> 4
    guard version == 4 else { return version == 6 ? .notIPv4 : .malformed }
    guard bytes.count >= 20 else { return .malformed }
    let headerLength = Int(bytes[0] & 0x0F) * 4
    guard headerLength >= 20, bytes.count >= headerLength else { return .malformed }
    let totalLength = Int(bytes[2]) << 8 | Int(bytes[3])
    // 0 is what the kernel writes into GSO super-packets above 64 KiB (BIG TCP): length unknown.
    guard totalLength == 0 || totalLength >= headerLength else { return .malformed }
    let fragmentField = UInt16(bytes[6]) << 8 | UInt16(bytes[7])
    let fragmentOffset = fragmentField & 0x1FFF
    let ipProtocol = bytes[9]
    func word(_ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }
    var key = PacketKey(source: word(12), destination: word(16), ipProtocol: ipProtocol)
    if fragmentOffset != 0 {
        return .ipv4(key, totalLength: totalLength, fragment: true)
    }
    if ipProtocol == IPProtocol.tcp || ipProtocol == IPProtocol.udp {
        // A first fragment or whole packet whose ports were cut off (a truncated copy, or a
        // hostile tiny first fragment) cannot be classified by port: malformed.
        guard bytes.count >= headerLength + 4, totalLength == 0 || totalLength >= headerLength + 4 else {
            return .malformed
        }
        key.sourcePort = UInt16(bytes[headerLength]) << 8 | UInt16(bytes[headerLength + 1])
        key.destinationPort = UInt16(bytes[headerLength + 2]) << 8 | UInt16(bytes[headerLength + 3])
    }
    return .ipv4(key, totalLength: totalLength, fragment: false)
}
