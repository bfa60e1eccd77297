/// A filter action (`ipsecNegotiationPolicy`): what happens to traffic a rule's filters select.
public struct FilterAction: Hashable, Sendable, Codable {
    public var id: IPsecGUID
    /// `ipsecName` (e.g. "Require Security"). Windows 2000 writes the action GUID here for the default
    /// response rule's action.
    public var name: String
    public var description: String
    public var whenChanged: Int64?
    public var action: FilterActionKind
    /// Negotiate only: accept unsecured inbound, always respond with IPsec (action `{3F91A81A-…}`).
    public var inboundPassThrough: Bool
    /// Negotiate only: allow unsecured communication with non-IPsec-aware computers (fall back to clear).
    public var allowFallbackToClear: Bool
    /// Whether this is the default response rule's action (type `{62F49E13-…}`) or a standard one.
    public var type: FilterActionType
    /// Quick-mode offers in preference order (negotiate only).
    public var offers: [SecurityOffer]

    public init(
        id: IPsecGUID,
        name: String,
        description: String = "",
        whenChanged: Int64? = nil,
        action: FilterActionKind,
        inboundPassThrough: Bool = false,
        allowFallbackToClear: Bool = false,
        type: FilterActionType = .standard,
        offers: [SecurityOffer] = []
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.whenChanged = whenChanged
        self.action = action
        self.inboundPassThrough = inboundPassThrough
        self.allowFallbackToClear = allowFallbackToClear
        self.type = type
        self.offers = offers
    }

    /// Session-key PFS as netsh shows it (`qmpfs`): set when any offer asks for it.
    public var quickModePFS: Bool { offers.contains { $0.perfectForwardSecrecy } }
}

/// Permit, block, or negotiate security.
public enum FilterActionKind: String, Hashable, Sendable, Codable, CaseIterable {
    case permit
    case block
    case negotiate
}

/// Standard filter action or the default response rule's.
public enum FilterActionType: String, Hashable, Sendable, Codable, CaseIterable {
    case standard
    case defaultResponse = "default-response"
}

/// One quick-mode offer: up to three transforms bundled (AH+ESP is two) and the SA lifetimes.
public struct SecurityOffer: Hashable, Sendable, Codable {
    public var transforms: [Transform]
    /// Lifetime in kilobytes; 0 means the default.
    public var lifetimeKilobytes: UInt32
    /// Lifetime in seconds; 0 means the default.
    public var lifetimeSeconds: UInt32
    /// Session-key perfect forward secrecy for this offer.
    public var perfectForwardSecrecy: Bool

    public init(
        transforms: [Transform],
        lifetimeKilobytes: UInt32 = 0,
        lifetimeSeconds: UInt32 = 0,
        perfectForwardSecrecy: Bool = false
    ) {
        self.transforms = transforms
        self.lifetimeKilobytes = lifetimeKilobytes
        self.lifetimeSeconds = lifetimeSeconds
        self.perfectForwardSecrecy = perfectForwardSecrecy
    }
}

extension SecurityOffer {
    /// The offers of a negotiating filter action when none are given (a † default of windows-ipsec.md
    /// §6): the Windows 2000/XP/2003 console list, ESP 3DES/SHA1, 3DES/MD5, DES/SHA1, DES/MD5.
    public static let windowsDefaults: [SecurityOffer] = [
        SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .sha1)]),
        SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .md5)]),
        SecurityOffer(transforms: [.esp(encryption: .des, integrity: .sha1)]),
        SecurityOffer(transforms: [.esp(encryption: .des, integrity: .md5)]),
    ]
}

/// One IPsec transform of an offer.
public enum Transform: Hashable, Sendable, Codable {
    /// Authentication header with an integrity algorithm.
    case ah(HashAlgorithm)
    /// ESP with encryption and integrity; either may be none (but not both).
    case esp(encryption: ESPEncryption, integrity: HashAlgorithm?)
}

/// ESP encryption: none, DES or 3DES.
public enum ESPEncryption: String, Hashable, Sendable, Codable, CaseIterable {
    case none = "None"
    case des = "DES"
    case tripleDES = "3DES"
}
