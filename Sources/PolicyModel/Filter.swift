/// A filter list (`ipsecFilter`): a named, shareable set of filters.
public struct FilterList: Hashable, Sendable, Codable {
    public var id: IPsecGUID
    public var name: String
    public var description: String
    public var whenChanged: Int64?
    public var filters: [Filter]

    public init(
        id: IPsecGUID,
        name: String,
        description: String = "",
        whenChanged: Int64? = nil,
        filters: [Filter] = []
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.whenChanged = whenChanged
        self.filters = filters
    }
}

/// One filter (a Filter-Spec inside the filter list's blob): which IPv4 packets it selects.
public struct Filter: Hashable, Sendable, Codable {
    /// The Filter-Specification GUID.
    public var id: IPsecGUID
    public var description: String
    /// Mirrored filters also match the reverse direction (destination → source).
    public var mirrored: Bool
    public var source: FilterAddress
    public var destination: FilterAddress
    /// IP protocol number; 0 means any.
    public var ipProtocol: UInt8
    /// 0 means any; only meaningful with TCP or UDP.
    public var sourcePort: UInt16
    /// 0 means any; only meaningful with TCP or UDP.
    public var destinationPort: UInt16

    public init(
        id: IPsecGUID,
        description: String = "",
        mirrored: Bool = true,
        source: FilterAddress,
        destination: FilterAddress,
        ipProtocol: UInt8 = IPProtocol.any,
        sourcePort: UInt16 = 0,
        destinationPort: UInt16 = 0
    ) {
        self.id = id
        self.description = description
        self.mirrored = mirrored
        self.source = source
        self.destination = destination
        self.ipProtocol = ipProtocol
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }
}

/// One side of a filter.
public enum FilterAddress: Hashable, Sendable, Codable {
    /// Every IPv4 address of this computer ("My IP address"); weighs as a /32.
    case me
    /// Any address (0.0.0.0/0).
    case any
    /// One host (mask 255.255.255.255).
    case host(IPv4Address)
    /// A subnet: address and mask. Windows accepts any mask bits; validation requires contiguous ones.
    case subnet(IPv4Address, mask: IPv4Address)
    /// A DNS name resolved when the filter was made; the resolved address is what filters.
    case dnsName(String, address: IPv4Address)
    /// The computer's DNS, WINS, DHCP servers or default gateway, resolved at run time.
    case server(SpecialServer)

    /// The prefix length this side weighs: `me` and hosts are /32, `any` /0, subnets their mask.
    /// Special servers weigh as hosts. Non-contiguous masks weigh as their number of one bits.
    public var prefixLength: Int {
        switch self {
        case .me, .host, .dnsName, .server: 32
        case .any: 0
        case .subnet(_, let mask): mask.prefixLength ?? mask.value.nonzeroBitCount
        }
    }
}

/// The special server types of Windows Server 2003 filters.
public enum SpecialServer: String, Hashable, Sendable, Codable, CaseIterable {
    case dns = "DNS"
    case wins = "WINS"
    case dhcp = "DHCP"
    case gateway = "GATEWAY"
}

/// Well-known IP protocol numbers.
public enum IPProtocol {
    public static let any: UInt8 = 0
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let rsvp: UInt8 = 46
    /// RAW in netsh is protocol 255.
    public static let raw: UInt8 = 255

    /// The netsh keyword for a protocol number (`ANY`, `ICMP`, `TCP`, `UDP`, `RAW`), or its decimal form.
    public static func name(_ number: UInt8) -> String {
        switch number {
        case any: "ANY"
        case icmp: "ICMP"
        case tcp: "TCP"
        case udp: "UDP"
        case raw: "RAW"
        default: String(number)
        }
    }

    /// Parses a netsh protocol keyword (any letter case) or a number 0–255.
    public static func parse(_ text: String) -> UInt8? {
        switch text.uppercased() {
        case "ANY": any
        case "ICMP": icmp
        case "TCP": tcp
        case "UDP": udp
        case "RAW": raw
        default: UInt8(text)
        }
    }
}
