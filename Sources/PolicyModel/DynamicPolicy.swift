/// The dynamic side of the security policy database (SPD) as `netsh ipsec dynamic` edits it: main-mode
/// and quick-mode policies and dynamic rules (windows-ipsec.md §6.2).
///
/// One value, held once, by the service's dynamic policy source; every netsh dynamic command (or
/// script) replaces it as a whole. It lives only while the service runs; the `set config` settings are
/// not part of it (they persist: ``DynamicSettings``).
public struct DynamicPolicy: Hashable, Sendable, Codable {
    public var mainModePolicies: [DynamicMainModePolicy]
    public var quickModePolicies: [DynamicQuickModePolicy]
    public var rules: [DynamicRule]

    public init(
        mainModePolicies: [DynamicMainModePolicy] = [],
        quickModePolicies: [DynamicQuickModePolicy] = [],
        rules: [DynamicRule] = []
    ) {
        self.mainModePolicies = mainModePolicies
        self.quickModePolicies = quickModePolicies
        self.rules = rules
    }

    public func mainModePolicy(named name: String) -> DynamicMainModePolicy? {
        mainModePolicies.first { $0.name.caseInsensitiveEquals(name) }
    }

    public func quickModePolicy(named name: String) -> DynamicQuickModePolicy? {
        quickModePolicies.first { $0.name.caseInsensitiveEquals(name) }
    }

    /// The rules as effective filters of the source named `source`, each with its inbound and outbound
    /// action; negotiate offers and `soft` come from the rule's quick-mode policy, IKE's main mode
    /// (offers, lifetime, quick modes per main mode, soft SA lifetime) from its main-mode policy and
    /// the authentication methods from the rule.
    public func effectiveFilters(source: String) -> [EffectiveFilter] {
        rules.map { rule in
            let quickMode = rule.quickModePolicy.flatMap(quickModePolicy(named:))
            let offers = quickMode?.offers ?? SecurityOffer.windowsDefaults
            func action(_ kind: FilterActionKind) -> FilterAction {
                FilterAction(
                    id: rule.id,
                    name: "Dynamic \(kind.rawValue)",
                    action: kind,
                    allowFallbackToClear: kind == .negotiate && quickMode?.soft == true,
                    offers: kind == .negotiate ? offers : []
                )
            }
            let mainMode = mainModePolicy(named: rule.mainModePolicy)
            let negotiation = NegotiationSettings(
                authenticationMethods: rule.authenticationMethods,
                mainMode: MainModeSettings(
                    id: rule.id,
                    quickModeLimit: mainMode?.quickModeLimit ?? 0,
                    lifetimeSeconds: (mainMode?.lifetimeMinutes ?? 480) * 60,
                    securityMethods: mainMode?.securityMethods ?? MainModeSecurityMethod.windowsDefaults
                ),
                softAssociationIdleSeconds: mainMode.flatMap {
                    $0.softSAExpirationSeconds == 0 ? nil : $0.softSAExpirationSeconds
                }
            )
            var filter = rule.filter
            filter.id = rule.id
            let inbound = action(rule.actionInbound)
            return EffectiveFilter(
                filter: filter,
                inboundAction: inbound,
                outboundAction: action(rule.actionOutbound),
                interfaceType: rule.interfaceType,
                tunnelEndpoint: rule.tunnelDestination,
                provenance: Provenance(
                    kind: .dynamic,
                    source: source,
                    policyName: "Dynamic",
                    ruleName: rule.id.braced,
                    ruleID: rule.id,
                    filterActionName: inbound.name
                ),
                negotiation: negotiation
            )
        }
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
public struct DynamicRule: Hashable, Sendable, Codable {
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
    public func sameFilter(as other: DynamicRule) -> Bool {
        filter.source == other.filter.source && filter.destination == other.filter.destination
            && filter.ipProtocol == other.filter.ipProtocol && filter.sourcePort == other.filter.sourcePort
            && filter.destinationPort == other.filter.destinationPort && filter.mirrored == other.filter.mirrored
            && interfaceType == other.interfaceType && tunnelDestination == other.tunnelDestination
    }
}
