public import PolicyModel

/// Windows algorithm identifiers as strongSwan's proposal keywords (swanctl.conf(5), "proposals").
public enum StrongSwanNames {
    public static func encryption(_ value: MainModeEncryption) -> String {
        switch value {
        case .des: "des"
        case .tripleDES: "3des"
        }
    }

    public static func encryption(_ value: ESPEncryption) -> String {
        switch value {
        case .none: "null"
        case .des: "des"
        case .tripleDES: "3des"
        }
    }

    public static func integrity(_ value: HashAlgorithm) -> String {
        switch value {
        case .md5: "md5"
        case .sha1: "sha1"
        }
    }

    /// Oakley group 1 is the 768-bit MODP group, group 2 the 1024-bit one, Windows' "DH2048" group 14.
    public static func group(_ value: DiffieHellmanGroup) -> String {
        switch value {
        case .group1: "modp768"
        case .group2: "modp1024"
        case .group2048: "modp2048"
        }
    }

    /// One IKE (main mode) proposal: `3des-sha1-modp1024`.
    public static func proposal(_ method: MainModeSecurityMethod) -> String {
        "\(encryption(method.encryption))-\(integrity(method.hash))-\(group(method.group))"
    }

    /// The IP protocol as a traffic-selector keyword (a number when it has no common name).
    public static func protocolName(_ number: UInt8) -> String {
        switch number {
        case IPProtocol.tcp: "tcp"
        case IPProtocol.udp: "udp"
        case IPProtocol.icmp: "icmp"
        default: String(number)
        }
    }
}
