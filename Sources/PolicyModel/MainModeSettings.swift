/// Main-mode (IKE phase 1) settings of a policy: the `ipsecISAKMPPolicy` object.
public struct MainModeSettings: Hashable, Sendable, Codable {
    /// The object's `ipsecID`.
    public var id: IPsecGUID
    /// `ipsecName`, often absent in Windows data.
    public var name: String?
    public var whenChanged: Int64?
    /// ISAKMP-Policy-Instance GUID inside the blob (Windows 2000 writes one, modern writers zero).
    public var instanceID: IPsecGUID
    /// Master key perfect forward secrecy: one quick mode per main mode.
    public var masterKeyPFS: Bool
    /// Quick modes per main mode; 0 means unlimited.
    public var quickModeLimit: UInt32
    /// Main-mode lifetime in seconds (netsh `mmlifetime` is in minutes). 0 means 28 800.
    public var lifetimeSeconds: UInt32
    /// ISAKMP-Options bit 1: map certificates to accounts.
    public var certificateToAccountMapping: Bool
    /// ISAKMP-Options bit 2: do not send a certificate request payload.
    public var omitCertificateRequest: Bool
    /// Offers in preference order.
    public var securityMethods: [MainModeSecurityMethod]

    /// Windows' default main-mode lifetime: 480 minutes.
    public static let defaultLifetimeSeconds: UInt32 = 28_800

    public init(
        id: IPsecGUID,
        name: String? = nil,
        whenChanged: Int64? = nil,
        instanceID: IPsecGUID = .zero,
        masterKeyPFS: Bool = false,
        quickModeLimit: UInt32 = 0,
        lifetimeSeconds: UInt32 = MainModeSettings.defaultLifetimeSeconds,
        certificateToAccountMapping: Bool = false,
        omitCertificateRequest: Bool = false,
        securityMethods: [MainModeSecurityMethod] = MainModeSecurityMethod.windowsDefaults
    ) {
        self.id = id
        self.name = name
        self.whenChanged = whenChanged
        self.instanceID = instanceID
        self.masterKeyPFS = masterKeyPFS
        self.quickModeLimit = quickModeLimit
        self.lifetimeSeconds = lifetimeSeconds
        self.certificateToAccountMapping = certificateToAccountMapping
        self.omitCertificateRequest = omitCertificateRequest
        self.securityMethods = securityMethods
    }
}

/// One main-mode offer: encryption, integrity and Diffie-Hellman group.
public struct MainModeSecurityMethod: Hashable, Sendable, Codable {
    public var encryption: MainModeEncryption
    public var hash: HashAlgorithm
    public var group: DiffieHellmanGroup
    /// Quick modes per main mode for this offer; 0 means unlimited.
    public var quickModeLimit: UInt32
    /// Lifetime in kilobytes; 0 means none.
    public var lifetimeKilobytes: UInt32
    /// Lifetime in seconds (Windows writes 28 800).
    public var lifetimeSeconds: UInt32

    public init(
        encryption: MainModeEncryption,
        hash: HashAlgorithm,
        group: DiffieHellmanGroup,
        quickModeLimit: UInt32 = 0,
        lifetimeKilobytes: UInt32 = 0,
        lifetimeSeconds: UInt32 = MainModeSettings.defaultLifetimeSeconds
    ) {
        self.encryption = encryption
        self.hash = hash
        self.group = group
        self.quickModeLimit = quickModeLimit
        self.lifetimeKilobytes = lifetimeKilobytes
        self.lifetimeSeconds = lifetimeSeconds
    }

    /// The Windows 2000/XP/2003 console default list: 3DES-SHA1-2, 3DES-MD5-2, DES-SHA1-1, DES-MD5-1.
    public static let windowsDefaults: [MainModeSecurityMethod] = [
        .init(encryption: .tripleDES, hash: .sha1, group: .group2),
        .init(encryption: .tripleDES, hash: .md5, group: .group2),
        .init(encryption: .des, hash: .sha1, group: .group1),
        .init(encryption: .des, hash: .md5, group: .group1),
    ]
}

/// Main-mode encryption: Windows Server 2003 offers DES and 3DES.
public enum MainModeEncryption: String, Hashable, Sendable, Codable, CaseIterable {
    case des = "DES"
    case tripleDES = "3DES"
}

/// Integrity (hash) algorithm, for main mode and AH.
public enum HashAlgorithm: String, Hashable, Sendable, Codable, CaseIterable {
    case md5 = "MD5"
    case sha1 = "SHA1"
}

/// Diffie-Hellman group: netsh numbers them 1, 2, 3 (3 = the 2048-bit group, "DH2048").
public enum DiffieHellmanGroup: String, Hashable, Sendable, Codable, CaseIterable {
    case group1 = "1"
    case group2 = "2"
    case group2048 = "2048"

    /// The number netsh uses in `mmsecmethods` (`3DES-SHA1-3`).
    public var netshNumber: Int {
        switch self {
        case .group1: 1
        case .group2: 2
        case .group2048: 3
        }
    }
}
