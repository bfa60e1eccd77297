public import PolicyModel

/// The host's IPv4 configuration the compiler resolves `me` and special servers against, and the
/// interfaces the decision reads a packet's connection type from.
///
/// One meaning for the driver, `explain` and netsh: `me` is every IPv4 address of an interface that is
/// up and not loopback; gateways are those of default routes (mask 0); DHCP servers come from leases.
/// The driver's `LinuxHostInfoSource` is the one reader of these values.
public struct HostInfo: Hashable, Sendable, Codable {
    /// Every IPv4 address of this computer except loopback ("My IP address").
    public var addresses: [IPv4Address]
    /// Directed broadcast addresses of the interfaces (for the broadcast exemption).
    public var broadcastAddresses: [IPv4Address]
    public var dnsServers: [IPv4Address]
    public var defaultGateways: [IPv4Address]
    public var dhcpServers: [IPv4Address]
    /// Always empty on Linux: there is no WINS client configuration to read, so WINS filters match
    /// nothing (docs/driver.md).
    public var winsServers: [IPv4Address]
    /// Every network interface, with its kernel index and connection type, sorted by index.
    public var interfaces: [HostInterface]

    public init(
        addresses: [IPv4Address] = [],
        broadcastAddresses: [IPv4Address] = [],
        dnsServers: [IPv4Address] = [],
        defaultGateways: [IPv4Address] = [],
        dhcpServers: [IPv4Address] = [],
        winsServers: [IPv4Address] = [],
        interfaces: [HostInterface] = []
    ) {
        self.addresses = addresses
        self.broadcastAddresses = broadcastAddresses
        self.dnsServers = dnsServers
        self.defaultGateways = defaultGateways
        self.dhcpServers = dhcpServers
        self.winsServers = winsServers
        self.interfaces = interfaces
    }

    /// The addresses of one kind of special server.
    public func servers(_ kind: SpecialServer) -> [IPv4Address] {
        switch kind {
        case .dns: dnsServers
        case .wins: winsServers
        case .dhcp: dhcpServers
        case .gateway: defaultGateways
        }
    }

    /// The interface called `name`, if this computer has it.
    public func interface(named name: String) -> HostInterface? {
        interfaces.first { $0.name == name }
    }
}

/// One network interface as the decision sees it.
public struct HostInterface: Hashable, Sendable, Codable {
    public var name: String
    /// The kernel's interface index (what NFQUEUE reports as in- and out-device).
    public var index: UInt32
    public var kind: InterfaceKind
    /// Why the interface has its kind (the kernel type, the device type or a `dialup_interfaces`
    /// pattern), for `explain`.
    public var kindReason: String

    public init(name: String, index: UInt32, kind: InterfaceKind, kindReason: String = "") {
        self.name = name
        self.index = index
        self.kind = kind
        self.kindReason = kindReason
    }
}
