public import PolicyModel

/// The rule a connection serves: where it came from, as `status` and `netsh` name it.
public struct RuleReference: Hashable, Sendable, Codable {
    /// The stable short form used in connection names (a hash of source, policy and rule).
    public var key: String
    public var source: String
    public var policyName: String
    public var ruleName: String

    public init(key: String, source: String, policyName: String, ruleName: String) {
        self.key = key
        self.source = source
        self.policyName = policyName
        self.ruleName = ruleName
    }

    /// `local: Policy / Rule`.
    public var label: String { "\(source): \(policyName) / \(ruleName)" }
}

/// Who a connection talks to.
public enum PeerScope: Hashable, Sendable, Codable {
    /// One peer address: ipsecsvc initiates this connection itself.
    case host(IPv4Address)
    /// A range (`remote_addrs` in charon's syntax: `%any`, `198.18.0.0/16`): answered as it is;
    /// ipsecsvc initiates to one peer of it with a connection specialised to that peer.
    case range(String)
}

/// One connection as ipsecsvc loads it into charon (`load-conn`).
public struct IKEConnection: Hashable, Sendable {
    public var name: String
    /// Everything inside `<name> { … }` of the `load-conn` message.
    public var definition: ViciMessage
    public var peer: PeerScope
    /// Child names, one per filter.
    public var children: [String]
    public var rule: RuleReference
    /// The default response rule's connection: only answers.
    public var respondsOnly: Bool
    /// IDs of the shared secrets (and keys) this connection needs.
    public var secrets: [String]
    /// Quick modes per main mode (0: unlimited); 1 for master key PFS. charon has no such limit:
    /// the keying engine re-authenticates an IKE SA that reached it.
    public var quickModeLimit: UInt32

    public init(
        name: String,
        definition: ViciMessage,
        peer: PeerScope,
        children: [String],
        rule: RuleReference,
        respondsOnly: Bool = false,
        secrets: [String] = [],
        quickModeLimit: UInt32 = 0
    ) {
        self.name = name
        self.definition = definition
        self.peer = peer
        self.children = children
        self.rule = rule
        self.respondsOnly = respondsOnly
        self.secrets = secrets
        self.quickModeLimit = quickModeLimit
    }

    /// The `load-conn` request body: `{ <name> = { … } }`.
    public var loadMessage: ViciMessage {
        var message = ViciMessage()
        message[name] = .section(definition)
        return message
    }
}

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
/// from the previous one.
public struct IKEConfiguration: Hashable, Sendable {
    public var connections: [String: IKEConnection]
    public var secrets: [String: IKESecret]
    /// Per index of ``EffectivePolicy/filters``: the negotiation its packets start.
    public var targets: [Int: NegotiationTarget]
    /// Per index of ``EffectivePolicy/filters``: why a negotiate filter cannot be negotiated.
    public var unnegotiable: [Int: UnnegotiableRule]
    /// What of the policy has no strongSwan counterpart and was left out (one line each).
    public var notes: [String]

    public init(
        connections: [String: IKEConnection] = [:],
        secrets: [String: IKESecret] = [:],
        targets: [Int: NegotiationTarget] = [:],
        unnegotiable: [Int: UnnegotiableRule] = [:],
        notes: [String] = []
    ) {
        self.connections = connections
        self.secrets = secrets
        self.targets = targets
        self.unnegotiable = unnegotiable
        self.notes = notes
    }

    public static let empty = IKEConfiguration()

    /// The rules that cannot be negotiated, once each.
    public var unnegotiableRules: [UnnegotiableRule] {
        var seen: Set<String> = []
        return unnegotiable.keys.sorted().compactMap { index in
            let entry = unnegotiable[index]!
            return seen.insert(entry.rule.key).inserted ? entry : nil
        }
    }
}
