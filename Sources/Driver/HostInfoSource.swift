public import DecisionCore
import Foundation
public import PolicyModel

/// Reads the host's IPv4 configuration; polled by the driver to re-resolve `me` and special servers.
///
/// Called from the driver's monitor task every couple of seconds; must be quick (no DNS lookups).
public protocol HostInfoSource: Sendable {
    func current() -> HostInfo
}

/// The Linux sources: interface addresses (`getifaddrs`), DNS servers (`/etc/resolv.conf`), default
/// gateways (`/proc/net/route`, per network namespace), DHCP servers (systemd-networkd and dhclient
/// leases, when present). WINS has no Linux source and stays empty.
public struct LinuxHostInfoSource: HostInfoSource {
    public var resolvConf: String
    public var routeTable: String
    public var leaseDirectories: [String]

    public init(
        resolvConf: String = "/etc/resolv.conf",
        routeTable: String = "/proc/net/route",
        leaseDirectories: [String] = ["/run/systemd/netif/leases", "/var/lib/dhcp", "/var/lib/dhclient"]
    ) {
        self.resolvConf = resolvConf
        self.routeTable = routeTable
        self.leaseDirectories = leaseDirectories
    }

    public func current() -> HostInfo {
        var info = HostInfo()
        let (addresses, broadcasts) = Self.interfaceAddresses()
        info.addresses = addresses
        info.broadcastAddresses = broadcasts
        info.dnsServers = Self.parseResolvConf(readTextFile(resolvConf) ?? "")
        info.defaultGateways = Self.parseRouteTable(readTextFile(routeTable) ?? "")
        var dhcp: [IPv4Address] = []
        for directory in leaseDirectories {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for name in names.sorted() {
                if let text = readTextFile(directory + "/" + name) { dhcp += Self.parseLease(text) }
            }
        }
        info.dhcpServers = Array(Set(dhcp)).sorted()
        return info
    }

    /// IPv4 addresses (loopback excluded) and broadcast addresses of the interfaces that are up.
    static func interfaceAddresses() -> ([IPv4Address], [IPv4Address]) {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return ([], []) }
        defer { freeifaddrs(list) }
        var addresses: Set<IPv4Address> = []
        var broadcasts: Set<IPv4Address> = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            let flags = Int32(bitPattern: entry.pointee.ifa_flags)
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
                flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0
            else { continue }
            let local = ipv4(address)
            addresses.insert(local)
            // The directed broadcast follows from address and mask; glibc reports the address itself
            // as "broadcast address" when none was configured, so the reported one is only a hint.
            if flags & Int32(IFF_BROADCAST) != 0, let netmask = entry.pointee.ifa_netmask,
                netmask.pointee.sa_family == sa_family_t(AF_INET)
            {
                let mask = ipv4(netmask).value
                if mask.nonzeroBitCount <= 30 { broadcasts.insert(IPv4Address(value: local.value | ~mask)) }
            }
            if flags & Int32(IFF_BROADCAST) != 0, let broadcast = entry.pointee.ifa_ifu.ifu_broadaddr,
                broadcast.pointee.sa_family == sa_family_t(AF_INET)
            {
                broadcasts.insert(ipv4(broadcast))
            }
        }
        broadcasts.subtract(addresses)
        return (addresses.sorted(), broadcasts.sorted())
    }

    private static func ipv4(_ address: UnsafeMutablePointer<sockaddr>) -> IPv4Address {
        address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
            IPv4Address(value: UInt32(bigEndian: $0.pointee.sin_addr.s_addr))
        }
    }

    /// `nameserver` lines with an IPv4 address.
    static func parseResolvConf(_ text: String) -> [IPv4Address] {
        text.split(separator: "\n").compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "nameserver" else { return nil }
            return IPv4Address(words[1])
        }
    }

    /// Gateways of default routes in `/proc/net/route` (hex, little-endian fields).
    static func parseRouteTable(_ text: String) -> [IPv4Address] {
        var result: [IPv4Address] = []
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 8, fields[1] == "00000000", fields[7] == "00000000",
                let gateway = UInt32(fields[2], radix: 16), gateway != 0
            else { continue }
            // The kernel prints the network-order word as a host-order number.
            let fixed = IPv4Address(value: UInt32(bigEndian: gateway))
            if !result.contains(fixed) { result.append(fixed) }
        }
        return result
    }

    /// `SERVER_ADDRESS=` (systemd-networkd) and `option dhcp-server-identifier` (dhclient).
    static func parseLease(_ text: String) -> [IPv4Address] {
        var result: [IPv4Address] = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("SERVER_ADDRESS="), let address = IPv4Address(line.dropFirst("SERVER_ADDRESS=".count)) {
                result.append(address)
            } else if line.hasPrefix("option dhcp-server-identifier ") {
                let value = line.dropFirst("option dhcp-server-identifier ".count).trimmingCharacters(in: [";", " "])
                if let address = IPv4Address(value) { result.append(address) }
            }
        }
        return result
    }
}

/// Reads a whole text file, including `/proc` files whose size reads as 0.
func readTextFile(_ path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    let data = handle.readDataToEndOfFile()
    return String(decoding: data, as: UTF8.self)
}

extension LinuxHostInfoSource {
    /// The parsers, for unit tests.
    public static func parseResolvConfForTests(_ text: String) -> [IPv4Address] { parseResolvConf(text) }
    public static func parseRouteTableForTests(_ text: String) -> [IPv4Address] { parseRouteTable(text) }
    public static func parseLeaseForTests(_ text: String) -> [IPv4Address] { parseLease(text) }
}
