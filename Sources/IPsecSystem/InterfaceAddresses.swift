#if canImport(Glibc)
import Glibc
#endif

/// One address of one network interface, as `getifaddrs` reports it: an IPv4 or IPv6 address, or the
/// interface's link (`AF_PACKET`) entry, which every interface has, up or not, addressed or not.
public struct InterfaceAddress: Hashable, Sendable {
    public enum Family: Hashable, Sendable {
        case ipv4
        case ipv6
        /// The link itself: ``linkIndex``, ``hardwareType`` and the hardware address.
        case link
    }

    /// The interface's name (`eth0`, `lo`).
    public var interface: String
    public var family: Family
    /// The address in network byte order (4 or 16 bytes), or the hardware address of a link (0–8 bytes).
    public var address: [UInt8]
    /// The netmask in network byte order, when the kernel reports one.
    public var netmask: [UInt8]?
    /// The broadcast address the kernel reports (IPv4 interfaces with `IFF_BROADCAST` only). glibc
    /// reports the address itself when none was configured, so it is a hint, not a fact.
    public var broadcast: [UInt8]?
    /// `IFF_UP`: administratively up.
    public var isUp: Bool
    /// `IFF_RUNNING`: the link is up as well.
    public var isRunning: Bool
    /// `IFF_LOOPBACK`.
    public var isLoopback: Bool
    /// `IFF_BROADCAST`: the interface supports broadcast.
    public var supportsBroadcast: Bool
    /// `IFF_POINTOPOINT`: a point-to-point link (PPP, a tunnel).
    public var isPointToPoint: Bool = false
    /// For a link entry: the interface index.
    public var linkIndex: UInt32?
    /// For a link entry: the kernel's link type (`ARPHRD_ETHER` 1, `ARPHRD_PPP` 512, `ARPHRD_LOOPBACK` 772).
    public var hardwareType: UInt16?

    /// An IPv4 address as a host-order number (`198.18.0.1` is `0xC612_0001`), `nil` for IPv6.
    public var ipv4: UInt32? { family == .ipv4 ? Self.number(address) : nil }
    /// The IPv4 netmask as a host-order number.
    public var ipv4Netmask: UInt32? { family == .ipv4 ? netmask.map(Self.number) : nil }
    /// The reported IPv4 broadcast address as a host-order number.
    public var ipv4Broadcast: UInt32? { family == .ipv4 ? broadcast.map(Self.number) : nil }

    private static func number(_ bytes: [UInt8]) -> UInt32 {
        bytes.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }
}

/// Every address of every interface of this network namespace, up or not, loopback included (callers
/// choose: the driver's `me` takes up, non-loopback IPv4 addresses).
/// - Throws: ``SystemError`` (`getifaddrs`).
public func interfaceAddresses() throws(SystemError) -> [InterfaceAddress] {
    var list: UnsafeMutablePointer<ifaddrs>?
    try SystemCall.check("getifaddrs") { getifaddrs(&list) }
    defer { freeifaddrs(list) }
    var result: [InterfaceAddress] = []
    var cursor = list
    while let entry = cursor {
        defer { cursor = entry.pointee.ifa_next }
        guard let raw = entry.pointee.ifa_addr else { continue }
        let family: InterfaceAddress.Family
        switch Int32(raw.pointee.sa_family) {
        case AF_INET: family = .ipv4
        case AF_INET6: family = .ipv6
        case AF_PACKET: family = .link
        default: continue
        }
        let flags = Int32(bitPattern: entry.pointee.ifa_flags)
        let supportsBroadcast = flags & Int32(IFF_BROADCAST) != 0
        var item = InterfaceAddress(
            interface: String(cString: entry.pointee.ifa_name),
            family: family,
            address: socketAddressBytes(raw, family)!,
            netmask: entry.pointee.ifa_netmask.flatMap { socketAddressBytes($0, family) },
            broadcast: supportsBroadcast && family == .ipv4
                ? entry.pointee.ifa_ifu.ifu_broadaddr.flatMap { socketAddressBytes($0, family) } : nil,
            isUp: flags & Int32(IFF_UP) != 0,
            isRunning: flags & Int32(IFF_RUNNING) != 0,
            isLoopback: flags & Int32(IFF_LOOPBACK) != 0,
            supportsBroadcast: supportsBroadcast,
            isPointToPoint: flags & Int32(IFF_POINTOPOINT) != 0
        )
        if family == .link {
            // struct sockaddr_ll (<linux/if_packet.h>, not in Swift's Glibc module): family and protocol
            // (2 bytes each), the int ifindex at 4, the host-order hatype at 8.
            let bytes = UnsafeRawPointer(raw)
            item.linkIndex = UInt32(bitPattern: bytes.loadUnaligned(fromByteOffset: 4, as: Int32.self))
            item.hardwareType = bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
            item.netmask = nil
        }
        result.append(item)
    }
    return result
}

/// The address bytes of `address` if it is of `family`.
private func socketAddressBytes(
    _ address: UnsafeMutablePointer<sockaddr>,
    _ family: InterfaceAddress.Family
) -> [UInt8]? {
    switch family {
    case .ipv4:
        guard Int32(address.pointee.sa_family) == AF_INET else { return nil }
        return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
            withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
        }
    case .ipv6:
        guard Int32(address.pointee.sa_family) == AF_INET6 else { return nil }
        return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
            withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
        }
    case .link:
        // sockaddr_ll: sll_halen (1 byte) at 11, sll_addr (8 bytes) at 12.
        guard Int32(address.pointee.sa_family) == AF_PACKET else { return nil }
        let bytes = UnsafeRawPointer(address)
        let length = min(Int(bytes.load(fromByteOffset: 11, as: UInt8.self)), 8)
        return Array(UnsafeRawBufferPointer(start: bytes + 12, count: length))
    }
}
