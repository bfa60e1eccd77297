public import PolicyModel

/// Traffic direction relative to this computer.
public enum PacketDirection: String, Hashable, Sendable, Codable, CaseIterable {
    case inbound = "in"
    case outbound = "out"
}

/// The packet `explain` asks about.
public struct PacketQuery: Hashable, Sendable, Codable {
    public var source: IPv4Address
    public var destination: IPv4Address
    public var ipProtocol: UInt8
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// `nil`: inferred from the local addresses (a packet from `me` is outbound).
    public var direction: PacketDirection?

    public init(
        source: IPv4Address,
        destination: IPv4Address,
        ipProtocol: UInt8 = IPProtocol.any,
        sourcePort: UInt16 = 0,
        destinationPort: UInt16 = 0,
        direction: PacketDirection? = nil
    ) {
        self.source = source
        self.destination = destination
        self.ipProtocol = ipProtocol
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.direction = direction
    }
}

/// Expands the run-time addresses of filters: `me` and the special servers.
public protocol AddressResolver: Sendable {
    /// This computer's IPv4 addresses (what `me` matches).
    func localAddresses() -> [IPv4Address]
    /// The computer's DNS, WINS, DHCP servers or default gateway.
    func servers(_ kind: SpecialServer) -> [IPv4Address]
}

/// A fixed resolver: for tests and for `explain` when the caller names the local addresses.
public struct StaticAddressResolver: AddressResolver {
    public var local: [IPv4Address]
    public var special: [SpecialServer: [IPv4Address]]

    public init(local: [IPv4Address] = [], special: [SpecialServer: [IPv4Address]] = [:]) {
        self.local = local
        self.special = special
    }

    public func localAddresses() -> [IPv4Address] { local }
    public func servers(_ kind: SpecialServer) -> [IPv4Address] { special[kind] ?? [] }
}

/// Whether a filter selects a packet: the same rules as the driver's classifier (DESIGN.md §3).
public enum PacketMatcher {
    /// How a filter matched.
    public enum Match: String, Hashable, Sendable, Codable {
        /// As configured: source to destination.
        case direct
        /// By its mirror: destination to source.
        case mirrored
    }

    /// How `filter` matches `packet`, or `nil`.
    public static func match(_ filter: Filter, _ packet: PacketQuery, resolver: any AddressResolver) -> Match? {
        if matches(
            filter,
            source: packet.source,
            destination: packet.destination,
            sourcePort: packet.sourcePort,
            destinationPort: packet.destinationPort,
            protocol: packet.ipProtocol,
            resolver: resolver
        ) {
            return .direct
        }
        if filter.mirrored
            && matches(
                filter,
                source: packet.destination,
                destination: packet.source,
                sourcePort: packet.destinationPort,
                destinationPort: packet.sourcePort,
                protocol: packet.ipProtocol,
                resolver: resolver
            )
        {
            return .mirrored
        }
        return nil
    }

    /// Whether an address side selects `address`.
    public static func contains(_ side: FilterAddress, _ address: IPv4Address, resolver: any AddressResolver) -> Bool {
        switch side {
        case .any: true
        case .me: resolver.localAddresses().contains(address)
        case .host(let host): host == address
        case .dnsName(_, let resolved): resolved == address
        case .subnet(let network, let mask): network.value & mask.value == address.value & mask.value
        case .server(let kind): resolver.servers(kind).contains(address)
        }
    }

    private static func matches(
        _ filter: Filter,
        source: IPv4Address,
        destination: IPv4Address,
        sourcePort: UInt16,
        destinationPort: UInt16,
        protocol ipProtocol: UInt8,
        resolver: any AddressResolver
    ) -> Bool {
        if filter.ipProtocol != IPProtocol.any && filter.ipProtocol != ipProtocol { return false }
        if filter.sourcePort != 0 && filter.sourcePort != sourcePort { return false }
        if filter.destinationPort != 0 && filter.destinationPort != destinationPort { return false }
        return contains(filter.source, source, resolver: resolver)
            && contains(filter.destination, destination, resolver: resolver)
    }
}
