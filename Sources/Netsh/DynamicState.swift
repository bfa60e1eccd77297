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
    public var config: DynamicConfig

    public init(
        mainModePolicies: [DynamicMainModePolicy] = [],
        quickModePolicies: [DynamicQuickModePolicy] = [],
        rules: [NetshDynamicRule] = [],
        config: DynamicConfig = DynamicConfig()
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

/// The driver's start-up mode as `set config property=bootmode` sets it.
public enum NetshBootMode: String, Hashable, Sendable, Codable, CaseIterable {
    case stateful
    case block
    case permit
}

/// One `bootexemptions` entry: `protocol:srcport:dstport:direction` (windows-ipsec.md §4.4).
public typealias NetshBootExemption = BootExemption

extension BootExemption {
    /// netsh's name for the direction of an entry.
    public typealias Direction = TrafficDirection

    /// Parses a space-separated list of entries as `set config property=bootexemptions` takes it;
    /// `none` (or an empty value) is the empty list. Ports are valid only with TCP or UDP.
    public static func parseList(_ text: String) throws(NetshError) -> [BootExemption] {
        let accepted =
            "protocol:srcport:dstport:direction entries separated by spaces (e.g. tcp:0:3389:inbound), or none"
        let items = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if items.isEmpty || (items.count == 1 && items[0].lowercased() == "none") { return [] }
        var result: [BootExemption] = []
        for item in items {
            guard let exemption = BootExemption(parsing: item) else {
                throw .invalidValue("bootexemptions", String(item), accepted: accepted)
            }
            let number = exemption.ipProtocol
            if number != IPProtocol.tcp && number != IPProtocol.udp
                && (exemption.sourcePort != 0 || exemption.destinationPort != 0)
            {
                throw NetshError(
                    "The boot exemption \"\(item)\" gives ports for protocol \(IPProtocol.name(number)); ports are valid only with TCP or UDP."
                )
            }
            result.append(exemption)
        }
        return result
    }
}

/// The `netsh ipsec dynamic set config` settings, with the defaults ipsecsvc uses.
public struct DynamicConfig: Hashable, Sendable, Codable {
    /// 0–7: driver event logging (0 off).
    public var ipsecDiagnostics: Int
    /// 0/1: IKE (Oakley) logging.
    public var ikeLogging: Int
    /// 0–2: 0 no CRL check, 1 fail only if revoked, 2 fail on any CRL error.
    public var strongCRLCheck: Int
    /// 60–86400 seconds between the driver's summary events.
    public var ipsecLogInterval: Int
    /// 0–3: default exemptions (`NoDefaultExempt`); 3 is Windows Server 2003's default.
    public var ipsecExempt: Int
    /// `nil`: the default, stateful when any policy is assigned and permit otherwise (DESIGN.md §3).
    public var bootMode: NetshBootMode?
    public var bootExemptions: [NetshBootExemption]

    public init(
        ipsecDiagnostics: Int = 0,
        ikeLogging: Int = 0,
        strongCRLCheck: Int = 0,
        ipsecLogInterval: Int = 3600,
        ipsecExempt: Int = 3,
        bootMode: NetshBootMode? = nil,
        bootExemptions: [NetshBootExemption] = []
    ) {
        self.ipsecDiagnostics = ipsecDiagnostics
        self.ikeLogging = ikeLogging
        self.strongCRLCheck = strongCRLCheck
        self.ipsecLogInterval = ipsecLogInterval
        self.ipsecExempt = ipsecExempt
        self.bootMode = bootMode
        self.bootExemptions = bootExemptions
    }
}
