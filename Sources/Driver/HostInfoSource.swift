public import DecisionCore
import IPsecSystem
import PolicyModel

/// Reads the host's IPv4 configuration and interfaces; polled by the driver to re-resolve `me`, the
/// special servers and the connection type of each interface.
///
/// Called by the driver's monitor every couple of seconds, and by `explain` and netsh for the same
/// values. It blocks (it reads files and asks the kernel), so async callers run it on the
/// `BlockingPool`, never on an actor or the cooperative pool; it must stay quick (no DNS lookups).
public protocol HostInfoSource: Sendable {
    func current() -> HostInfo
}

/// The one reader of the host's state on Linux: interfaces and their addresses (`getifaddrs`: IPv4
/// addresses of interfaces that are up and not loopback; every link with its index and kernel link
/// type), device types (`/sys/class/net/NAME/uevent`), DNS servers (`/etc/resolv.conf`), default
/// gateways (`/proc/net/route`, default routes with mask 0, per network namespace), DHCP servers
/// (systemd-networkd and dhclient leases, when present). WINS has no Linux source and stays empty.
///
/// All of its I/O is in this file and goes through `IPsecSystem` (bounded reads, `interfaceAddresses()`);
/// the parsing is ``HostConfigurationText`` in the decision core.
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
        let links = Self.links((try? interfaceAddresses()) ?? [])
        info.addresses = links.addresses
        info.broadcastAddresses = links.broadcasts
        info.interfaces = links.interfaces.map { link in
            let deviceType = Self.readText(sysClassNet + "/" + link.name + "/uevent").flatMap(
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
        info.dnsServers = HostConfigurationText.nameservers(Self.readText(resolvConf) ?? "")
        info.defaultGateways = HostConfigurationText.defaultGateways(Self.readText(routeTable) ?? "")
        var dhcp: [IPv4Address] = []
        for directory in leaseDirectories {
            guard let names = try? FileSystem.entries(of: directory) else { continue }
            for name in names.sorted() {
                if let text = Self.readText(directory + "/" + name) { dhcp += HostConfigurationText.dhcpServers(text) }
            }
        }
        info.dhcpServers = Array(Set(dhcp)).sorted()
        return info
    }

    /// One link (the `AF_PACKET` entry of an interface).
    struct Link: Equatable {
        var name: String
        var index: UInt32
        var hardwareType: UInt16
        var isLoopback: Bool
    }

    /// Every link, and the IPv4 addresses (loopback excluded) and broadcast addresses of the
    /// interfaces that are up. The link entries carry index and link type straight from the kernel, so
    /// this is right in any network namespace whatever `/sys` shows.
    static func links(
        _ entries: [InterfaceAddress]
    ) -> (interfaces: [Link], addresses: [IPv4Address], broadcasts: [IPv4Address]) {
        var links: [Link] = []
        var addresses: Set<IPv4Address> = []
        var broadcasts: Set<IPv4Address> = []
        for entry in entries {
            if entry.family == .link, let index = entry.linkIndex {
                links.append(
                    Link(
                        name: entry.interface,
                        index: index,
                        hardwareType: entry.hardwareType ?? 0,
                        isLoopback: entry.isLoopback
                    )
                )
                continue
            }
            guard let value = entry.ipv4, entry.isUp, !entry.isLoopback else { continue }
            let local = IPv4Address(value: value)
            addresses.insert(local)
            // The directed broadcast follows from address and mask; glibc reports the address itself
            // as "broadcast address" when none was configured, so the reported one is only a hint.
            if entry.supportsBroadcast, let mask = entry.ipv4Netmask, mask.nonzeroBitCount <= 30 {
                broadcasts.insert(IPv4Address(value: value | ~mask))
            }
            if let broadcast = entry.ipv4Broadcast { broadcasts.insert(IPv4Address(value: broadcast)) }
        }
        broadcasts.subtract(addresses)
        return (links.sorted { $0.index < $1.index }, addresses.sorted(), broadcasts.sorted())
    }

    /// A small text file of the host's configuration (`/proc` and `/sys` files read as size 0 and are
    /// read to their end), or `nil` when it is absent, unreadable or over 1 MiB: a missing value, never
    /// an error of the driver.
    static func readText(_ path: String) -> String? {
        (try? FileSystem.readTextIfPresent(path, limit: 1 << 20)) ?? nil
    }
}
