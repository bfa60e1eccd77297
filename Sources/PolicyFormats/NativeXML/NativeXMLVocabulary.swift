import PolicyModel

/// The element names of the native format (see `policies-xml/ipsec-policy.xsd`).
enum NativeXMLElement: String {
    case policyStore, filterList, filter, include, source, destination
    case me, any, host, subnet, dnsName, server
    case filterAction, offer, ah, esp
    case policy, mainMode, securityMethod, rule, filterListRef, kerberos, preSharedKey, certificate
}

/// The attribute names of the native format.
enum NativeXMLAttribute: String {
    case version, assignedPolicy
    case id, name, description, whenChanged
    case mirrored, `protocol`, sourcePort, destinationPort
    case address, mask, type
    case action, inpass, soft
    case lifetimeSeconds, lifetimeKilobytes, pfs, encryption, integrity
    case pollingIntervalSeconds
    case instanceID, masterKeyPFS, quickModeLimit, certificateToAccountMapping, omitCertificateRequest, group
    case filterAction, filterList, interface, interfaceName, tunnelEndpoint, tunnelEndpointName, active
    case defaultResponse
    case key, authority, certmap, excludeCAName
}

/// Keywords for values, shared by the reader and the writer so that they cannot disagree.
enum NativeXMLKeyword {
    /// IP protocols with a name; any other number is written in decimal.
    static let protocols: [(name: String, number: UInt8)] = [
        ("any", 0), ("icmp", 1), ("igmp", 2), ("tcp", 6), ("udp", 17), ("rsvp", 46), ("gre", 47), ("esp", 50),
        ("ah", 51), ("raw", 255),
    ]

    static func protocolName(_ number: UInt8) -> String {
        protocols.first { $0.number == number }?.name ?? String(number)
    }

    static func protocolNumber(_ text: String) -> UInt8? {
        protocols.first { $0.name == text }?.number ?? UInt8(text)
    }

    static func server(_ server: SpecialServer) -> String {
        switch server {
        case .dns: "dns"
        case .wins: "wins"
        case .dhcp: "dhcp"
        case .gateway: "gateway"
        }
    }

    static func server(_ text: String) -> SpecialServer? {
        SpecialServer.allCases.first { self.server($0) == text }
    }

    static func espEncryption(_ value: ESPEncryption) -> String {
        switch value {
        case .none: "none"
        case .des: "DES"
        case .tripleDES: "3DES"
        }
    }

    static func espEncryption(_ text: String) -> ESPEncryption? {
        ESPEncryption.allCases.first { espEncryption($0) == text }
    }

    /// ESP integrity: a hash or `none`.
    static func integrity(_ value: HashAlgorithm?) -> String { value?.rawValue ?? "none" }

    static func integrity(_ text: String) -> HashAlgorithm?? {
        text == "none" ? .some(nil) : HashAlgorithm(rawValue: text).map { .some($0) }
    }
}
