public import PolicyModel

/// The host's IPv4 configuration the compiler resolves `me` and special servers against.
public struct HostInfo: Hashable, Sendable {
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

    public init(
        addresses: [IPv4Address] = [],
        broadcastAddresses: [IPv4Address] = [],
        dnsServers: [IPv4Address] = [],
        defaultGateways: [IPv4Address] = [],
        dhcpServers: [IPv4Address] = [],
        winsServers: [IPv4Address] = []
    ) {
        self.addresses = addresses
        self.broadcastAddresses = broadcastAddresses
        self.dnsServers = dnsServers
        self.defaultGateways = defaultGateways
        self.dhcpServers = dhcpServers
        self.winsServers = winsServers
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
}
