public import PolicyModel

/// A credential charon needs: a pre-shared key (`load-shared`) or a private key (`load-key`).
/// Never logged, never shown.
public struct IKESecret: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// An IKE pre-shared key for the given owners (identities; empty: any).
        case sharedKey(owners: [String])
        /// A private key, parsed by charon.
        case privateKey
    }

    public var id: String
    public var kind: Kind
    public var data: [UInt8]

    public init(id: String, kind: Kind, data: [UInt8]) {
        self.id = id
        self.kind = kind
        self.data = data
    }

    /// The `load-shared` or `load-key` request body.
    public var loadMessage: ViciMessage {
        switch kind {
        case .sharedKey(let owners):
            ["id": .text(id), "type": "IKE", "data": .value(data), "owners": .texts(owners)]
        case .privateKey:
            ["type": "any", "data": .value(data)]
        }
    }
}

/// What the first packet of a negotiate filter asks keying to do.
public struct NegotiationTarget: Hashable, Sendable {
    /// The connection of each single peer the filter names.
    public var connections: [IPv4Address: String]
    /// For a filter whose peer side is a range: the connection to specialise to the packet's peer.
    public var rangeTemplate: String?
    public var child: String
    /// Fall back to clear when the peer does not answer (`soft`).
    public var soft: Bool
    /// Accept clear inbound, answer protected (`inpass`).
    public var inboundPassThrough: Bool
    /// Seconds an unused soft association lives.
    public var softIdleSeconds: UInt32
    /// charon's trap starts this negotiation (kernel datapath, one peer, neither soft nor inpass).
    public var trapped: Bool

    public init(
        connections: [IPv4Address: String],
        rangeTemplate: String?,
        child: String,
        soft: Bool,
        inboundPassThrough: Bool,
        softIdleSeconds: UInt32,
        trapped: Bool
    ) {
        self.connections = connections
        self.rangeTemplate = rangeTemplate
        self.child = child
        self.soft = soft
        self.inboundPassThrough = inboundPassThrough
        self.softIdleSeconds = softIdleSeconds
        self.trapped = trapped
    }
}

/// A negotiate rule that cannot be negotiated here, and why.
public struct UnnegotiableRule: Hashable, Sendable, Codable {
    public var rule: RuleReference
    public var reason: String

    public init(rule: RuleReference, reason: String) {
        self.rule = rule
        self.reason = reason
    }
}

/// The IKE configuration for one effective policy: what charon must hold, and how each negotiate
/// filter maps onto it. Pure data: ``KeyingPlanner`` makes it, the engine loads the difference
/// from the previous one. Only negotiate filters have entries.
public struct IKEConfiguration: Hashable, Sendable {
    public var connections: [String: IKEConnection]
    public var secrets: [String: IKESecret]
    /// Per index of ``EffectivePolicy/filters``: the negotiation its packets start.
    public var targets: NegotiationTargets
    /// Per index of ``EffectivePolicy/filters``: why a negotiate filter cannot be negotiated.
    public var unnegotiable: UnnegotiableFilters
    /// What of the policy has no strongSwan counterpart and was left out (one line each, once).
    public var notes: [String]

    public init(
        connections: [String: IKEConnection] = [:],
        secrets: [String: IKESecret] = [:],
        targets: NegotiationTargets = NegotiationTargets(),
        unnegotiable: UnnegotiableFilters = UnnegotiableFilters(),
        notes: [String] = []
    ) {
        self.connections = connections
        self.secrets = secrets
        self.targets = targets
        self.unnegotiable = unnegotiable
        self.notes = notes
    }

    public static let empty = IKEConfiguration()

    /// The rules that cannot be negotiated, once each, in filter order (the distinct refusals are kept
    /// in the order of their first filter).
    public var unnegotiableRules: [UnnegotiableRule] {
        var seen: Set<String> = []
        return unnegotiable.refusals.filter { seen.insert($0.rule.key).inserted }
    }
}
