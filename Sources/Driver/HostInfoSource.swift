public import DecisionCore
import Foundation
import PolicyModel

/// Reads the host's IPv4 configuration and interfaces; polled by the driver to re-resolve `me`, the
/// special servers and the connection type of each interface.
///
/// Called from the driver's monitor task every couple of seconds, and by `explain` and netsh for the
/// same values; must be quick (no DNS lookups).
public protocol HostInfoSource: Sendable {
    func current() -> HostInfo
}

/// The one reader of the host's state on Linux: interfaces and their addresses (`getifaddrs`: IPv4
/// addresses of interfaces that are up and not loopback; every link with its index and kernel link
/// type), device types (`/sys/class/net/NAME/uevent`), DNS servers (`/etc/resolv.conf`), default
/// gateways (`/proc/net/route`, default routes with mask 0, per network namespace), DHCP servers
/// (systemd-networkd and dhclient leases, when present). WINS has no Linux source and stays empty.
///
/// All of its I/O is in this file (the parsing is ``HostConfigurationText`` in the decision core).
public struct LinuxHostInfoSource: HostInfoSource {
    public var resolvConf: String
    public var routeTable: String
    public var leaseDirectories: [String]
    /// Classifies interfaces as LAN or remote access (`dialup_interfaces`).
    public var classifier: InterfaceClassifier
    /// Where `NAME/uevent` is read for the device type.
    public var sysClassNet: String

    public init(
        resolvConf: String = "/etc/resolv.conf",
        routeTable: String = "/proc/net/route",
        leaseDirectories: [String] = ["/run/systemd/netif/leases", "/var/lib/dhcp", "/var/lib/dhclient"],
        classifier: InterfaceClassifier = InterfaceClassifier(),
        sysClassNet: String = "/sys/class/net"
    ) {
        self.resolvConf = resolvConf
        self.routeTable = routeTable
        self.leaseDirectories = leaseDirectories
        self.classifier = classifier
        self.sysClassNet = sysClassNet
    }

    public func current() -> HostInfo {
        var info = HostInfo()
        let links = Self.links()
        info.addresses = links.addresses
        info.broadcastAddresses = links.broadcasts
        info.interfaces = links.interfaces.map { link in
            let deviceType = readTextFile(sysClassNet + "/" + link.name + "/uevent").flatMap(
                HostConfigurationText.deviceType
            )
            let (kind, reason) = classifier.classify(
                name: link.name,
                hardwareType: link.hardwareType,
                deviceType: deviceType,
                isLoopback: link.isLoopback
            )
            return HostInterface(name: link.name, index: link.index, kind: kind, kindReason: reason)
        }
        info.dnsServers = HostConfigurationText.nameservers(readTextFile(resolvConf) ?? "")
        info.defaultGateways = HostConfigurationText.defaultGateways(readTextFile(routeTable) ?? "")
        var dhcp: [IPv4Address] = []
        for directory in leaseDirectories {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for name in names.sorted() {
                if let text = readTextFile(directory + "/" + name) { dhcp += HostConfigurationText.dhcpServers(text) }
            }
        }
        info.dhcpServers = Array(Set(dhcp)).sorted()
        return info
    }

    /// One link (`AF_PACKET` entry of `getifaddrs`).
    struct Link {
        var name: String
        var index: UInt32
        var hardwareType: UInt16
        var isLoopback: Bool
    }

    /// Every link, and the IPv4 addresses (loopback excluded) and broadcast addresses of the
    /// interfaces that are up. The `AF_PACKET` entries carry index and link type straight from the
    /// kernel, so this is right in any network namespace whatever `/sys` shows.
    static func links() -> (interfaces: [Link], addresses: [IPv4Address], broadcasts: [IPv4Address]) {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return ([], [], []) }
        defer { freeifaddrs(list) }
        var links: [Link] = []
        var addresses: Set<IPv4Address> = []
        var broadcasts: Set<IPv4Address> = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            let flags = Int32(bitPattern: entry.pointee.ifa_flags)
            guard let address = entry.pointee.ifa_addr else { continue }
            if address.pointee.sa_family == sa_family_t(AF_PACKET) {
                // struct sockaddr_ll (<linux/if_packet.h>, not in Swift's Glibc module): family and
                // protocol (2 bytes each), then the int ifindex at 4 and the host-order hatype at 8.
                let raw = UnsafeRawPointer(address)
                links.append(
                    Link(
                        name: String(cString: entry.pointee.ifa_name),
                        index: UInt32(bitPattern: raw.loadUnaligned(fromByteOffset: 4, as: Int32.self)),
                        hardwareType: raw.loadUnaligned(fromByteOffset: 8, as: UInt16.self),
                        isLoopback: flags & Int32(IFF_LOOPBACK) != 0
                    )
                )
                continue
            }
            guard address.pointee.sa_family == sa_family_t(AF_INET),
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
        return (links.sorted { $0.index < $1.index }, addresses.sorted(), broadcasts.sorted())
    }

    private static func ipv4(_ address: UnsafeMutablePointer<sockaddr>) -> IPv4Address {
        address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
            IPv4Address(value: UInt32(bigEndian: $0.pointee.sin_addr.s_addr))
        }
    }
}

/// Reads a whole text file, including `/proc` and `/sys` files whose size reads as 0.
func readTextFile(_ path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    let data = handle.readDataToEndOfFile()
    return String(decoding: data, as: UTF8.self)
}
