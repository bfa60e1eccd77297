/// A rule (`ipsecNFA`): filter lists, the filter action that applies to their traffic, how peers
/// authenticate, where it applies (interface type, tunnel).
public struct Rule: Hashable, Sendable, Codable {
    public var id: IPsecGUID
    /// `ipsecName`; optional in Windows data (the default response rule usually has none).
    public var name: String
    public var description: String
    public var whenChanged: Int64?
    /// Filter lists by GUID, in stored order (empty for the default response rule).
    public var filterListIDs: [IPsecGUID]
    /// The filter action by GUID; `nil` only for rules Windows stores without one.
    public var filterActionID: IPsecGUID?
    /// Authentication methods in preference order (at least one).
    public var authenticationMethods: [AuthenticationMethod]
    public var interfaceType: InterfaceType
    /// Interface-Name inside the blob; always empty in Windows data.
    public var interfaceName: String
    /// The tunnel endpoint: `nil` for transport-mode rules.
    public var tunnelEndpoint: IPv4Address?
    /// Tunnel endpoint given as a DNS name (kept for display, like Windows).
    public var tunnelEndpointName: String
    /// Is-Active-Specifier: an inactive rule stays stored but adds nothing.
    public var isActive: Bool
    /// The default response rule: no filters, a default-response filter action, answers IKE requests.
    public var isDefaultResponse: Bool

    public init(
        id: IPsecGUID,
        name: String = "",
        description: String = "",
        whenChanged: Int64? = nil,
        filterListIDs: [IPsecGUID] = [],
        filterActionID: IPsecGUID? = nil,
        authenticationMethods: [AuthenticationMethod] = [.kerberos],
        interfaceType: InterfaceType = .all,
        interfaceName: String = "",
        tunnelEndpoint: IPv4Address? = nil,
        tunnelEndpointName: String = "",
        isActive: Bool = true,
        isDefaultResponse: Bool = false
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.whenChanged = whenChanged
        self.filterListIDs = filterListIDs
        self.filterActionID = filterActionID
        self.authenticationMethods = authenticationMethods
        self.interfaceType = interfaceType
        self.interfaceName = interfaceName
        self.tunnelEndpoint = tunnelEndpoint
        self.tunnelEndpointName = tunnelEndpointName
        self.isActive = isActive
        self.isDefaultResponse = isDefaultResponse
    }
}

/// How IKE authenticates the peer, one entry of a rule's ordered list.
public enum AuthenticationMethod: Hashable, Sendable, Codable {
    /// Kerberos V5 (Auth-Type 5), the Windows default.
    case kerberos
    /// A pre-shared key (Auth-Type 1); Windows stores it in clear text.
    case preSharedKey(String)
    /// A certificate from a root CA (Auth-Type 3).
    case certificate(CertificateAuthority)
}

/// A root certificate authority accepted for certificate authentication.
public struct CertificateAuthority: Hashable, Sendable, Codable {
    /// The CA's distinguished name as Windows shows it (`CN=Example Root CA, O=Example`).
    public var name: String
    /// Map the certificate to a computer account (`certmap:yes`).
    public var certificateToAccountMapping: Bool
    /// Do not send the CA name in the certificate request (`excludecaname:yes`).
    public var excludeCAName: Bool

    public init(name: String, certificateToAccountMapping: Bool = false, excludeCAName: Bool = false) {
        self.name = name
        self.certificateToAccountMapping = certificateToAccountMapping
        self.excludeCAName = excludeCAName
    }
}

/// The adapters a rule applies to (NFA Interface-Type).
public enum InterfaceType: String, Hashable, Sendable, Codable, CaseIterable {
    /// All connections (`0xFFFFFFFD`).
    case all
    /// Local area network only (`0xFFFFFFFE`).
    case lan
    /// Remote access / dial-up only (`0xFFFFFFFF`).
    case dialUp = "dialup"

    /// The value stored in the NFA blob.
    public var windowsValue: UInt32 {
        switch self {
        case .all: 0xFFFF_FFFD
        case .lan: 0xFFFF_FFFE
        case .dialUp: 0xFFFF_FFFF
        }
    }

    public init?(windowsValue: UInt32) {
        switch windowsValue {
        case 0xFFFF_FFFD: self = .all
        case 0xFFFF_FFFE: self = .lan
        case 0xFFFF_FFFF: self = .dialUp
        default: return nil
        }
    }
}
