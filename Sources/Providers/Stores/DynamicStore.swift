public import PolicyModel

/// One dynamic rule (`netsh ipsec dynamic add rule` / `add qmfilter`): a filter and its actions, in
/// memory only.
public struct DynamicRule: Hashable, Sendable, Codable {
    /// The rule's unique name (netsh `name=`).
    public var name: String
    public var filter: Filter
    public var inboundAction: FilterAction
    public var outboundAction: FilterAction
    public var interfaceType: InterfaceType
    public var tunnelEndpoint: IPv4Address?
    /// Authentication methods and main mode (`mmpolicy`) for IKE; `nil`: Windows' defaults.
    public var negotiation: NegotiationSettings?

    public init(
        name: String,
        filter: Filter,
        inboundAction: FilterAction,
        outboundAction: FilterAction? = nil,
        interfaceType: InterfaceType = .all,
        tunnelEndpoint: IPv4Address? = nil,
        negotiation: NegotiationSettings? = nil
    ) {
        self.name = name
        self.filter = filter
        self.inboundAction = inboundAction
        self.outboundAction = outboundAction ?? inboundAction
        self.interfaceType = interfaceType
        self.tunnelEndpoint = tunnelEndpoint
        self.negotiation = negotiation
    }
}

/// The dynamic policy: rules that take effect at once and vanish when the service stops (they are never
/// written). The dynamic `set config` settings are not kept here: they persist in
/// `dynamic-settings.conf`, whose only reader and writer is the service host's `ServiceStateStore`
/// (under the store lock, re-read before every change), so no second in-memory copy can go stale or
/// overwrite a newer file.
public actor DynamicStore: PolicyProvider {
    /// Why a dynamic edit was refused.
    public enum DynamicError: Error, Hashable, Sendable, CustomStringConvertible {
        case duplicateRule(String)
        case noSuchRule(String)

        public var description: String {
            switch self {
            case .duplicateRule(let name): "a dynamic rule named \"\(name)\" already exists"
            case .noSuchRule(let name): "no dynamic rule named \"\(name)\""
            }
        }
    }

    public nonisolated let name = "dynamic"
    public nonisolated let kind = SourceKind.dynamic
    public private(set) var rules: [DynamicRule] = []
    private let signal = ChangeSignal()

    public init() {}

    /// Adds a rule; it takes effect at the next merge, which the change signal triggers at once.
    public func add(_ rule: DynamicRule) throws(DynamicError) {
        guard !rules.contains(where: { $0.name.caseInsensitiveEquals(rule.name) }) else {
            throw .duplicateRule(rule.name)
        }
        rules.append(rule)
        signal.signal()
    }

    /// Removes the rule named `name`.
    public func remove(named name: String) throws(DynamicError) {
        guard let index = rules.firstIndex(where: { $0.name.caseInsensitiveEquals(name) }) else {
            throw .noSuchRule(name)
        }
        rules.remove(at: index)
        signal.signal()
    }

    /// Removes every dynamic rule (`delete all`).
    public func removeAll() {
        guard !rules.isEmpty else { return }
        rules.removeAll()
        signal.signal()
    }

    public func currentPolicy() async -> ProviderReport {
        guard !rules.isEmpty else { return .notConfigured(reason: "no dynamic rules") }
        let filters = rules.map { rule in
            EffectiveFilter(
                filter: rule.filter,
                inboundAction: rule.inboundAction,
                outboundAction: rule.outboundAction,
                interfaceType: rule.interfaceType,
                tunnelEndpoint: rule.tunnelEndpoint,
                provenance: Provenance(
                    kind: .dynamic,
                    source: name,
                    policyName: "Dynamic",
                    ruleName: rule.name,
                    filterActionName: rule.inboundAction.name
                ),
                negotiation: rule.negotiation
            )
        }
        return .policy(SourcePolicy(content: .filters(filters), policyName: "Dynamic"))
    }

    public nonisolated func changes() -> AsyncStream<Void> { signal.stream() }
}
