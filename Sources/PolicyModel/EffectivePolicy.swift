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
///
/// Everything but ``filter`` is the filter's *context*: its rule's actions, connection type, tunnel,
/// keying settings and provenance, the same for every filter of a filter list. It is kept in one shared,
/// immutable box, so that the filters of one list (copies of one value with only ``filter`` changed, as
/// the merger and the driver's hand-over build them) hold it once: inline, the context made each filter
/// about 375 bytes, 37 MiB per copy of a 100,000-filter policy. Value semantics are unchanged: setting a
/// context property gives this filter a box of its own; equality, hashing and coding are those of the
/// fields, as before.
public struct EffectiveFilter: Hashable, Sendable, Codable {
    public var filter: Filter
    /// Inlinable for ``contextIdentity``: the wire encoder asks it per filter, through a pointer, and a
    /// call would copy the whole filter first.
    @usableFromInline var shared: SharedContext

    /// The action for packets that arrive at this computer and match.
    public var inboundAction: FilterAction {
        get { shared.context.inboundAction }
        set { modifyContext { $0.inboundAction = newValue } }
    }
    /// The action for packets this computer sends that match. Equal to ``inboundAction`` for
    /// static rules; dynamic rules may differ (`actioninbound` / `actionoutbound`).
    public var outboundAction: FilterAction {
        get { shared.context.outboundAction }
        set { modifyContext { $0.outboundAction = newValue } }
    }
    public var interfaceType: InterfaceType {
        get { shared.context.interfaceType }
        set { modifyContext { $0.interfaceType = newValue } }
    }
    /// Tunnel endpoint of the rule, `nil` for transport mode.
    public var tunnelEndpoint: IPv4Address? {
        get { shared.context.tunnelEndpoint }
        set { modifyContext { $0.tunnelEndpoint = newValue } }
    }
    public var provenance: Provenance {
        get { shared.context.provenance }
        set { modifyContext { $0.provenance = newValue } }
    }
    /// How IKE negotiates for this filter (its rule's authentication methods and its policy's main
    /// mode); `nil` means Windows' defaults (Kerberos, the default main-mode offers).
    public var negotiation: NegotiationSettings? {
        get { shared.context.negotiation }
        set { modifyContext { $0.negotiation = newValue } }
    }

    /// What a classifier needs of the two actions (kind, type, `inpass`, `soft`), read in place:
    /// copying a ``FilterAction`` retains its GUID, strings and offers, eight reference counts per
    /// filter that a compile of 100,000 filters (DecisionCore's `FilterCompiler`) does not need.
    public var actionFields: (inbound: ActionFields, outbound: ActionFields) {
        let rule = shared.context.rule
        return (
            ActionFields(
                kind: rule.value.inboundAction.action,
                type: rule.value.inboundAction.type,
                inboundPassThrough: rule.value.inboundAction.inboundPassThrough,
                allowFallbackToClear: rule.value.inboundAction.allowFallbackToClear
            ),
            ActionFields(
                kind: rule.value.outboundAction.action,
                type: rule.value.outboundAction.type,
                inboundPassThrough: rule.value.outboundAction.inboundPassThrough,
                allowFallbackToClear: rule.value.outboundAction.allowFallbackToClear
            )
        )
    }

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
        self.shared = SharedContext(
            Context(
                inboundAction: inboundAction,
                outboundAction: outboundAction ?? inboundAction,
                interfaceType: interfaceType,
                tunnelEndpoint: tunnelEndpoint,
                provenance: provenance,
                negotiation: negotiation
            )
        )
    }

    /// The same context (shared, not copied) with another filter.
    public func with(filter: Filter) -> EffectiveFilter {
        var copy = self
        copy.filter = filter
        return copy
    }

    /// The identity of this filter's shared context box: filters with the same identity have equal
    /// contexts (those with different ones may have equal contexts too). Lets the driver's wire
    /// encoding group a list's filters in one comparison instead of comparing every field of the
    /// context per filter (`PolicyWire`).
    @inlinable public var contextIdentity: ObjectIdentifier { ObjectIdentifier(shared) }

    /// Whether this filter and `other` have equal contexts (everything but ``filter``): one comparison
    /// when they share a box.
    @inlinable public func hasSameContext(as other: EffectiveFilter) -> Bool {
        shared === other.shared || sameContextValues(as: other)
    }

    /// The provenance first: filters of different rules differ there, in a name or GUID a few words in,
    /// while their rule parts are often equal (the same action), compared field by field.
    @usableFromInline func sameContextValues(as other: EffectiveFilter) -> Bool {
        shared.context.provenance == other.shared.context.provenance && hasSameRule(as: other)
    }

    /// The identity of this filter's rule part box (everything of the context but the provenance):
    /// filters with the same identity have equal rule parts. Lets the wire encoding number a context
    /// once per box instead of hashing its actions and keying settings per rule (`PolicyWire`).
    public var ruleIdentity: ObjectIdentifier { ObjectIdentifier(shared.context.rule) }

    /// Whether this filter and `other` have equal rule parts (their contexts but the provenances): one
    /// comparison when they share a box.
    public func hasSameRule(as other: EffectiveFilter) -> Bool { shared.context.rule == other.shared.context.rule }

    private mutating func modifyContext(_ change: (inout Context) -> Void) {
        var context = shared.context
        change(&context)
        shared = SharedContext(context)
    }

    public static func == (lhs: EffectiveFilter, rhs: EffectiveFilter) -> Bool {
        lhs.filter == rhs.filter && (lhs.shared === rhs.shared || lhs.shared.context == rhs.shared.context)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(filter)
        hasher.combine(shared.context)
    }

    private enum CodingKeys: String, CodingKey {
        case filter, inboundAction, outboundAction, interfaceType, tunnelEndpoint, provenance, negotiation
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            filter: try container.decode(Filter.self, forKey: .filter),
            inboundAction: try container.decode(FilterAction.self, forKey: .inboundAction),
            outboundAction: try container.decode(FilterAction.self, forKey: .outboundAction),
            interfaceType: try container.decode(InterfaceType.self, forKey: .interfaceType),
            tunnelEndpoint: try container.decodeIfPresent(IPv4Address.self, forKey: .tunnelEndpoint),
            provenance: try container.decode(Provenance.self, forKey: .provenance),
            negotiation: try container.decodeIfPresent(NegotiationSettings.self, forKey: .negotiation)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let context = shared.context
        try container.encode(filter, forKey: .filter)
        try container.encode(context.inboundAction, forKey: .inboundAction)
        try container.encode(context.outboundAction, forKey: .outboundAction)
        try container.encode(context.interfaceType, forKey: .interfaceType)
        try container.encodeIfPresent(context.tunnelEndpoint, forKey: .tunnelEndpoint)
        try container.encode(context.provenance, forKey: .provenance)
        try container.encodeIfPresent(context.negotiation, forKey: .negotiation)
    }

    /// A filter's context: its rule's part (actions, connection type, tunnel, keying) in a box of its own,
    /// and its provenance. A context made from another by setting its provenance shares the other's rule
    /// part (the driver's table decoder makes one per group so: every group of one context), copying a
    /// box reference and the provenance only: a table of 100,000 rules of one action each decoded to
    /// 100,000 contexts of ~450 bytes, both actions copied into each, where they are ~230 bytes now.
    struct Context: Hashable, Sendable {
        var rule: SharedRule
        var provenance: Provenance

        init(
            inboundAction: FilterAction,
            outboundAction: FilterAction,
            interfaceType: InterfaceType,
            tunnelEndpoint: IPv4Address?,
            provenance: Provenance,
            negotiation: NegotiationSettings?
        ) {
            rule = SharedRule(
                RuleContext(
                    inboundAction: inboundAction,
                    outboundAction: outboundAction,
                    interfaceType: interfaceType,
                    tunnelEndpoint: tunnelEndpoint,
                    negotiation: negotiation
                )
            )
            self.provenance = provenance
        }

        var inboundAction: FilterAction {
            get { rule.value.inboundAction }
            set { modifyRule { $0.inboundAction = newValue } }
        }
        var outboundAction: FilterAction {
            get { rule.value.outboundAction }
            set { modifyRule { $0.outboundAction = newValue } }
        }
        var interfaceType: InterfaceType {
            get { rule.value.interfaceType }
            set { modifyRule { $0.interfaceType = newValue } }
        }
        var tunnelEndpoint: IPv4Address? {
            get { rule.value.tunnelEndpoint }
            set { modifyRule { $0.tunnelEndpoint = newValue } }
        }
        var negotiation: NegotiationSettings? {
            get { rule.value.negotiation }
            set { modifyRule { $0.negotiation = newValue } }
        }

        private mutating func modifyRule(_ change: (inout RuleContext) -> Void) {
            var value = rule.value
            change(&value)
            rule = SharedRule(value)
        }
    }

    /// Everything of a context but its provenance.
    struct RuleContext: Hashable, Sendable {
        var inboundAction: FilterAction
        var outboundAction: FilterAction
        var interfaceType: InterfaceType
        var tunnelEndpoint: IPv4Address?
        var negotiation: NegotiationSettings?
    }

    /// Immutable, hence `Sendable`; equality and hashing are the value's (one comparison when shared).
    final class SharedRule: Hashable, Sendable {
        let value: RuleContext
        init(_ value: RuleContext) { self.value = value }

        static func == (lhs: SharedRule, rhs: SharedRule) -> Bool { lhs === rhs || lhs.value == rhs.value }
        func hash(into hasher: inout Hasher) { hasher.combine(value) }
    }

    /// Immutable, hence `Sendable`; replaced, never changed, when a context property is set.
    @usableFromInline final class SharedContext: Sendable {
        let context: Context
        init(_ context: Context) { self.context = context }
    }
}

/// The fields of a ``FilterAction`` that decide packets (``EffectiveFilter/actionFields``).
public struct ActionFields: Hashable, Sendable {
    public var kind: FilterActionKind
    public var type: FilterActionType
    public var inboundPassThrough: Bool
    public var allowFallbackToClear: Bool
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
