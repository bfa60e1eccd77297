public import PolicyModel

/// The dynamic (SPD) side of the Policy Agent as `netsh ipsec dynamic` edits it: main-mode and
/// quick-mode policies, dynamic rules, and the `set config` settings.
///
/// Rules and policies live only while the service runs; ``config`` persists (windows-ipsec.md §2,
/// §4.3–4.5). Plain values: the service host keeps one, the dynamic provider turns its rules into
/// effective filters, the CLI edits a copy and sends it back.
public struct DynamicState: Hashable, Sendable, Codable {
    public var mainModePolicies: [DynamicMainModePolicy]
    public var quickModePolicies: [DynamicQuickModePolicy]
    public var rules: [NetshDynamicRule]
    public var config: DynamicSettings

    public init(
        mainModePolicies: [DynamicMainModePolicy] = [],
        quickModePolicies: [DynamicQuickModePolicy] = [],
        rules: [NetshDynamicRule] = [],
        config: DynamicSettings = DynamicSettings()
    ) {
        self.mainModePolicies = mainModePolicies
        self.quickModePolicies = quickModePolicies
        self.rules = rules
        self.config = config
    }

    public func mainModePolicy(named name: String) -> DynamicMainModePolicy? {
        mainModePolicies.first { $0.name.caseInsensitiveEquals(name) }
    }

    public func quickModePolicy(named name: String) -> DynamicQuickModePolicy? {
        quickModePolicies.first { $0.name.caseInsensitiveEquals(name) }
    }
}

/// `add mmpolicy`: main-mode offers and lifetimes for dynamic rules.
public struct DynamicMainModePolicy: Hashable, Sendable, Codable {
    public var name: String
    /// Quick modes per main mode; 0 = unlimited.
    public var quickModeLimit: UInt32
    /// Main-mode lifetime in minutes.
    public var lifetimeMinutes: UInt32
    /// Seconds before an unused soft SA expires.
    public var softSAExpirationSeconds: UInt32
    public var securityMethods: [MainModeSecurityMethod]

    public init(
        name: String,
        quickModeLimit: UInt32 = 0,
        lifetimeMinutes: UInt32 = 480,
        softSAExpirationSeconds: UInt32 = 0,
        securityMethods: [MainModeSecurityMethod] = MainModeSecurityMethod.windowsDefaults
    ) {
        self.name = name
        self.quickModeLimit = quickModeLimit
        self.lifetimeMinutes = lifetimeMinutes
        self.softSAExpirationSeconds = softSAExpirationSeconds
        self.securityMethods = securityMethods
    }
}

/// The session-key PFS group of a quick-mode policy (`pfsgroup`).
public enum DynamicPFSGroup: String, Hashable, Sendable, Codable, CaseIterable {
    case group1 = "GRP1"
    case group2 = "GRP2"
    case group3 = "GRP3"
    /// The main mode's group.
    case mainMode = "GRPMM"
    case none = "NOPFS"
}

/// `add qmpolicy`: quick-mode offers for dynamic rules.
public struct DynamicQuickModePolicy: Hashable, Sendable, Codable {
    public var name: String
    /// Allow unsecured communication with non-IPsec-aware computers.
    public var soft: Bool
    public var pfsGroup: DynamicPFSGroup
    public var offers: [SecurityOffer]

    public init(
        name: String,
        soft: Bool = false,
        pfsGroup: DynamicPFSGroup = .none,
        offers: [SecurityOffer] = SecurityOffer.windowsDefaults
    ) {
        self.name = name
        self.soft = soft
        self.pfsGroup = pfsGroup
        self.offers = offers
    }
}

/// `add rule` of the dynamic context: one generic filter pair (main mode + quick mode) with its
/// own inbound and outbound actions.
public struct NetshDynamicRule: Hashable, Sendable, Codable {
    /// Names the rule's filters in `show mmfilter` / `show qmfilter`.
    public var id: IPsecGUID
    /// Source and destination with their masks; protocol, ports, mirrored.
    public var filter: Filter
    public var interfaceType: InterfaceType
    public var mainModePolicy: String
    /// Needed when an action is negotiate.
    public var quickModePolicy: String?
    public var actionInbound: FilterActionKind
    public var actionOutbound: FilterActionKind
    /// Tunnel destination; `nil` for a transport rule.
    public var tunnelDestination: IPv4Address?
    public var authenticationMethods: [AuthenticationMethod]

    public init(
        id: IPsecGUID,
        filter: Filter,
        interfaceType: InterfaceType = .all,
        mainModePolicy: String,
        quickModePolicy: String? = nil,
        actionInbound: FilterActionKind = .negotiate,
        actionOutbound: FilterActionKind = .negotiate,
        tunnelDestination: IPv4Address? = nil,
        authenticationMethods: [AuthenticationMethod] = [.kerberos]
    ) {
        self.id = id
        self.filter = filter
        self.interfaceType = interfaceType
        self.mainModePolicy = mainModePolicy
        self.quickModePolicy = quickModePolicy
        self.actionInbound = actionInbound
        self.actionOutbound = actionOutbound
        self.tunnelDestination = tunnelDestination
        self.authenticationMethods = authenticationMethods
    }

    /// Whether the identifying fields (addresses, masks, protocol, ports, mirrored, connection
    /// type, tunnel) equal `other`'s: how `set rule` and `delete rule` find a rule.
    public func sameFilter(as other: NetshDynamicRule) -> Bool {
        filter.source == other.filter.source && filter.destination == other.filter.destination
            && filter.ipProtocol == other.filter.ipProtocol && filter.sourcePort == other.filter.sourcePort
            && filter.destinationPort == other.filter.destinationPort && filter.mirrored == other.filter.mirrored
            && interfaceType == other.interfaceType && tunnelDestination == other.tunnelDestination
    }
}
