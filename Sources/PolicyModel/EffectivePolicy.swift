/// The resultant set of policy: every filter of every source in effect, each with the actions it
/// takes and where it came from. The merger (Providers) builds it; the driver compiles it.
public struct EffectivePolicy: Hashable, Sendable, Codable {
    /// Increases with every change so that the driver and `status` can tell tables apart.
    public var generation: UInt64
    /// Filters in merge order (the driver orders them by weight).
    public var filters: [EffectiveFilter]
    /// The active default response rules of the assigned policies: they add no filters, but IKE
    /// answers peers that no other rule covers with their offers (keying).
    public var defaultResponses: [EffectiveDefaultResponse]

    public init(
        generation: UInt64 = 0,
        filters: [EffectiveFilter] = [],
        defaultResponses: [EffectiveDefaultResponse] = []
    ) {
        self.generation = generation
        self.filters = filters
        self.defaultResponses = defaultResponses
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        generation = try container.decode(UInt64.self, forKey: .generation)
        filters = try container.decode([EffectiveFilter].self, forKey: .filters)
        defaultResponses =
            try container.decodeIfPresent([EffectiveDefaultResponse].self, forKey: .defaultResponses) ?? []
    }

    /// No policy at all: secure mode then filters nothing.
    public static let empty = EffectivePolicy()
}

/// One filter in effect.
public struct EffectiveFilter: Hashable, Sendable, Codable {
    public var filter: Filter
    /// The action for packets that arrive at this computer and match.
    public var inboundAction: FilterAction
    /// The action for packets this computer sends that match. Equal to ``inboundAction`` for
    /// static rules; dynamic rules may differ (`actioninbound` / `actionoutbound`).
    public var outboundAction: FilterAction
    public var interfaceType: InterfaceType
    /// Tunnel endpoint of the rule, `nil` for transport mode.
    public var tunnelEndpoint: IPv4Address?
    public var provenance: Provenance
    /// How IKE negotiates for this filter (its rule's authentication methods and its policy's main
    /// mode); `nil` means Windows' defaults (Kerberos, the default main-mode offers).
    public var negotiation: NegotiationSettings?

    public init(
        filter: Filter,
        inboundAction: FilterAction,
        outboundAction: FilterAction? = nil,
        interfaceType: InterfaceType = .all,
        tunnelEndpoint: IPv4Address? = nil,
        provenance: Provenance,
        negotiation: NegotiationSettings? = nil
    ) {
        self.filter = filter
        self.inboundAction = inboundAction
        self.outboundAction = outboundAction ?? inboundAction
        self.interfaceType = interfaceType
        self.tunnelEndpoint = tunnelEndpoint
        self.provenance = provenance
        self.negotiation = negotiation
    }
}

/// What IKE needs beyond the filter to negotiate: how peers authenticate, in the rule's order, and
/// the main-mode settings of the policy (or the dynamic rule's `mmpolicy`).
public struct NegotiationSettings: Hashable, Sendable, Codable {
    public var authenticationMethods: [AuthenticationMethod]
    public var mainMode: MainModeSettings
    /// Seconds an unused soft association lives (`softsaexpirationtime` of a dynamic `mmpolicy`);
    /// `nil`: Windows' 5 minutes.
    public var softAssociationIdleSeconds: UInt32?

    public init(
        authenticationMethods: [AuthenticationMethod],
        mainMode: MainModeSettings,
        softAssociationIdleSeconds: UInt32? = nil
    ) {
        self.authenticationMethods = authenticationMethods
        self.mainMode = mainMode
        self.softAssociationIdleSeconds = softAssociationIdleSeconds
    }
}

/// An active default response rule in effect: IKE answers a peer no filter covers with this
/// action's offers and these authentication methods (windows-ipsec.md §4.6).
public struct EffectiveDefaultResponse: Hashable, Sendable, Codable {
    public var action: FilterAction
    public var negotiation: NegotiationSettings
    public var provenance: Provenance

    public init(action: FilterAction, negotiation: NegotiationSettings, provenance: Provenance) {
        self.action = action
        self.negotiation = negotiation
        self.provenance = provenance
    }
}

/// The kinds of policy source, in the order Windows consults them.
public enum SourceKind: String, Hashable, Sendable, Codable, CaseIterable {
    case persistent
    case directory
    case directoryCache = "directory-cache"
    case local
    case dynamic
    case plugin
}

/// Where an effective filter came from: source, store, policy, rule, and for directory policy the GPO
/// and the container (OU, domain or site) whose link brought it.
public struct Provenance: Hashable, Sendable, Codable {
    public var kind: SourceKind
    /// The provider's name (`persistent`, `directory`, `plugin:cmdb`, ...).
    public var source: String
    /// The store the policy was read from (file path or snapshot path), when there is one.
    public var store: String?
    public var policyName: String
    public var policyID: IPsecGUID?
    public var ruleName: String
    public var ruleID: IPsecGUID?
    public var filterListName: String
    public var filterListID: IPsecGUID?
    public var filterActionName: String
    /// Directory policy: the GPO's display name (or DN when it has none).
    public var gpo: String?
    /// Directory policy: the DN of the OU, domain or site whose link applied the GPO.
    public var linkedThrough: String?

    public init(
        kind: SourceKind,
        source: String,
        store: String? = nil,
        policyName: String,
        policyID: IPsecGUID? = nil,
        ruleName: String,
        ruleID: IPsecGUID? = nil,
        filterListName: String = "",
        filterListID: IPsecGUID? = nil,
        filterActionName: String = "",
        gpo: String? = nil,
        linkedThrough: String? = nil
    ) {
        self.kind = kind
        self.source = source
        self.store = store
        self.policyName = policyName
        self.policyID = policyID
        self.ruleName = ruleName
        self.ruleID = ruleID
        self.filterListName = filterListName
        self.filterListID = filterListID
        self.filterActionName = filterActionName
        self.gpo = gpo
        self.linkedThrough = linkedThrough
    }
}

extension SourceKind {
    /// The words `status`, the events and netsh use for this kind.
    public var displayName: String {
        switch self {
        case .persistent: "persistent"
        case .directory: "directory"
        case .directoryCache: "directory cache"
        case .local: "local"
        case .dynamic: "dynamic"
        case .plugin: "plugin"
        }
    }
}

extension Provenance {
    /// Where a filter comes from, for people: `local policy "Web" {GUID} from GPO "…"`.
    public var sourceDescription: String {
        var text = "\(kind.displayName) policy \"\(policyName)\""
        if let id = policyID { text += " \(id.braced)" }
        if let gpo { text += " from GPO \"\(gpo)\"" }
        if let linkedThrough { text += " linked to \(linkedThrough)" }
        if kind == .plugin { text += " (\(source))" }
        return text
    }

    /// The whole path: source, rule, filter list, filter action and store.
    public var pathDescription: String {
        var text = sourceDescription
        text += " › rule \"\(ruleName)\""
        if !filterListName.isEmpty { text += " › filter list \"\(filterListName)\"" }
        if !filterActionName.isEmpty { text += " › filter action \"\(filterActionName)\"" }
        if let store { text += " [\(store)]" }
        return text
    }
}
