public import PolicyModel

/// An address as netsh takes it for `srcaddr`, `dstaddr` and `tunnel`, before masks and DNS are applied.
package enum NetshAddressValue: Hashable, Sendable {
    case me
    case any
    case ip(IPv4Address)
    case dnsName(String)
    case server(SpecialServer)
}

/// Looks up DNS names for filters and tunnel endpoints. Windows resolves a name when the filter is
/// made and stores one filter per address (windows-ipsec.md §3.5); tests inject a table.
public protocol NetshNameResolver {
    /// The IPv4 addresses of `name`; empty when it does not resolve.
    func resolve(_ name: String) -> [IPv4Address]
}

/// A resolver that knows nothing: DNS names are refused with a clear message.
public struct NoNameResolver: NetshNameResolver {
    public init() {}
    public func resolve(_ name: String) -> [IPv4Address] { [] }
}

/// A fixed name → addresses table (tests, or a hosts-file-like setup).
public struct TableNameResolver: NetshNameResolver {
    public var table: [String: [IPv4Address]]
    public init(_ table: [String: [IPv4Address]]) { self.table = table }
    public func resolve(_ name: String) -> [IPv4Address] { table[name.lowercased()] ?? table[name] ?? [] }
}

/// Pure parsers for the filter fields of netsh: addresses, masks, protocols, ports.
package enum NetshAddressing {
    static let addressAccepted = "me, any, an IPv4 address, a DNS name, or WINS, DNS, DHCP, GATEWAY"

    /// Parses `me`, `any`, an IPv4 address, a server type or a DNS name.
    /// Ranges and IPv6 are Vista additions; Windows Server 2003 (and ipsecsvc) refuse them.
    package static func parseAddress(_ text: String, tag: String) throws(NetshError) -> NetshAddressValue {
        switch text.lowercased() {
        case "me": return .me
        case "any": return .any
        default: break
        }
        if let server = SpecialServer(rawValue: text.uppercased()) { return .server(server) }
        if let address = IPv4Address(text) { return .ip(address) }
        if text.contains(":")
            || (text.contains("-") && text.split(separator: "-").allSatisfy({ IPv4Address($0) != nil }))
        {
            throw NetshError(
                "The value \"\(text)\" is not valid for parameter '\(tag)': address ranges and IPv6 addresses are not supported by Windows Server 2003 IPsec. Accepted values: \(addressAccepted)."
            )
        }
        let isHostName =
            !text.isEmpty && text.first != "." && text.first != "-"
            && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }
            && text.contains(where: \.isLetter)
        guard isHostName else { throw .invalidValue(tag, text, accepted: addressAccepted) }
        return .dnsName(text)
    }

    /// Parses a dotted mask or a prefix length (`24`). Masks must be contiguous.
    package static func parseMask(_ text: String, tag: String) throws(NetshError) -> IPv4Address {
        if let length = Int(text), (0...32).contains(length) { return .mask(prefixLength: length) }
        if let mask = IPv4Address(text), mask.prefixLength != nil { return mask }
        throw .invalidValue(tag, text, accepted: "a mask such as 255.255.255.0 or a prefix length from 0 to 32")
    }

    /// `ANY|ICMP|TCP|UDP|RAW|<0-255>`.
    package static func parseProtocol(_ text: String, tag: String = "protocol") throws(NetshError) -> UInt8 {
        guard let number = IPProtocol.parse(text) else {
            throw .invalidValue(tag, text, accepted: "ANY, ICMP, TCP, UDP, RAW or an integer from 0 to 255")
        }
        return number
    }

    /// A port 0–65535; 0 means any port.
    package static func parsePort(_ text: String, tag: String) throws(NetshError) -> UInt16 {
        guard let port = UInt16(text) else {
            throw .invalidValue(tag, text, accepted: "an integer from 0 to 65535 (0 means any port)")
        }
        return port
    }

    /// Ports only mean something for TCP and UDP; netsh refuses them with other protocols.
    package static func checkPorts(protocol number: UInt8, source: UInt16, destination: UInt16) throws(NetshError) {
        guard number != IPProtocol.tcp, number != IPProtocol.udp else { return }
        if source != 0 {
            throw NetshError("The parameter 'srcport' is valid only when protocol is TCP or UDP.")
        }
        if destination != 0 {
            throw NetshError("The parameter 'dstport' is valid only when protocol is TCP or UDP.")
        }
    }

    /// Turns a parsed address and mask into the filter sides it stands for: one per resolved
    /// address for DNS names.
    package static func filterAddresses(
        _ value: NetshAddressValue,
        mask: IPv4Address,
        tag: String,
        resolver: any NetshNameResolver
    ) throws(NetshError) -> [FilterAddress] {
        switch value {
        case .me: return [.me]
        case .any: return [.any]
        case .server(let server): return [.server(server)]
        case .ip(let address):
            if mask.value == 0 && address.value == 0 { return [.any] }
            if mask == .broadcast { return [.host(address)] }
            return [.subnet(IPv4Address(value: address.value & mask.value), mask: mask)]
        case .dnsName(let name):
            let addresses = resolver.resolve(name)
            guard !addresses.isEmpty else {
                throw NetshError("The DNS name \"\(name)\" given for parameter '\(tag)' could not be resolved.")
            }
            return addresses.map { .dnsName(name, address: $0) }
        }
    }

    /// How a filter side is written back on a netsh command line: address and mask.
    package static func format(_ address: FilterAddress) -> (address: String, mask: String) {
        switch address {
        case .me: ("me", "255.255.255.255")
        case .any: ("any", "0.0.0.0")
        case .host(let ip): (ip.description, "255.255.255.255")
        case .subnet(let ip, let mask): (ip.description, mask.description)
        case .dnsName(let name, _): (name, "255.255.255.255")
        case .server(let server): (server.rawValue, "255.255.255.255")
        }
    }
}
