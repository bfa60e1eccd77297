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

    /// The peer as charon's `remote_addrs` item.
    var remoteAddress: String {
        switch self {
        case .host(let ip): ip.description
        case .range(let text): text
        }
    }
}

/// One connection as ipsecsvc loads it into charon (`load-conn`).
///
/// Kept as the few values its `load-conn` section is made of (``definition`` writes the section when it
/// is loaded): the settings its rule's connections share, its peer and one small ``IKEChild`` per
/// filter. A section written out per filter was about 1 KiB of small allocations, most of keying's
/// memory at 100,000 filters (Benchmarks/README.md §4). Two connections are equal exactly when their
/// sections are: every stored value is written, and written differently when it differs.
public struct IKEConnection: Hashable, Sendable {
    public var name: String
    public var peer: PeerScope
    /// What the connections of one rule and authentication method share.
    public var settings: ConnectionSettings
    /// One child per filter, in the order the filters came.
    public var children: [IKEChild]
    /// Whether trapped children get `start_action = trap` (the first authentication method's
    /// connection; responder-only variants and per-peer connections start nothing themselves).
    public var startsNegotiations: Bool
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
        peer: PeerScope,
        settings: ConnectionSettings,
        children: [IKEChild],
        startsNegotiations: Bool,
        rule: RuleReference,
        respondsOnly: Bool = false,
        secrets: [String] = [],
        quickModeLimit: UInt32 = 0
    ) {
        self.name = name
        self.peer = peer
        self.settings = settings
        self.children = children
        self.startsNegotiations = startsNegotiations
        self.rule = rule
        self.respondsOnly = respondsOnly
        self.secrets = secrets
        self.quickModeLimit = quickModeLimit
    }

    /// Everything inside `<name> { … }` of the `load-conn` message (the swanctl.conf
    /// `connections.<name>` tree), written now.
    public var definition: ViciMessage { ConnectionDefinition.make(self) }

    /// The `load-conn` request body: `{ <name> = { … } }`.
    public var loadMessage: ViciMessage {
        var message = ViciMessage()
        message[name] = .section(definition)
        return message
    }
}

/// What the connections of one rule and authentication method have in common: everything of their
/// `load-conn` section but the peer and the children.
public struct ConnectionSettings: Hashable, Sendable {
    /// How this computer proves itself and checks the peer.
    public enum Authentication: Hashable, Sendable {
        /// Pre-shared key: the key itself goes with `load-shared`, never into the section.
        case preSharedKey
        /// The CA's and this computer's certificates (DER), and whether a certificate request is sent.
        case certificate(authority: [UInt8], host: [UInt8], sendsCertificateRequest: Bool)
    }

    /// The main-mode offers in order, without repeats (`proposals`).
    public var mainModeProposals: [String]
    /// `reauth_time` in seconds (the main-mode lifetime, Windows' default when it stores 0).
    public var reauthSeconds: UInt32
    public var authentication: Authentication

    public init(mainModeProposals: [String], reauthSeconds: UInt32, authentication: Authentication) {
        self.mainModeProposals = mainModeProposals
        self.reauthSeconds = reauthSeconds
        self.authentication = authentication
    }
}

/// One child of a connection (one filter): its `children.<name>` section as values.
public struct IKEChild: Hashable, Sendable {
    public var name: String
    public var local: TrafficSelector
    public var remote: TrafficSelector
    /// The filter action's proposals and lifetimes: one value shared by the children of a rule.
    public var security: ChildSecurity
    /// `mode = tunnel` (a tunnel rule, or any rule on the libipsec datapath), else transport.
    public var tunnel: Bool
    /// charon's trap starts it (`start_action = trap` when its connection starts negotiations).
    public var trapped: Bool

    public init(
        name: String,
        local: TrafficSelector,
        remote: TrafficSelector,
        security: ChildSecurity,
        tunnel: Bool,
        trapped: Bool
    ) {
        self.name = name
        self.local = local
        self.remote = remote
        self.security = security
        self.tunnel = tunnel
        self.trapped = trapped
    }
}

/// A child's ESP and AH proposals and lifetimes (Windows' defaults already put in for 0).
public struct ChildSecurity: Hashable, Sendable {
    public var espProposals: [String]
    public var ahProposals: [String]
    public var lifetimeSeconds: UInt32
    public var lifetimeKilobytes: UInt32

    public init(espProposals: [String], ahProposals: [String], lifetimeSeconds: UInt32, lifetimeKilobytes: UInt32) {
        self.espProposals = espProposals
        self.ahProposals = ahProposals
        self.lifetimeSeconds = lifetimeSeconds == 0 ? KeyingPlanner.defaultQuickModeSeconds : lifetimeSeconds
        self.lifetimeKilobytes = lifetimeKilobytes == 0 ? KeyingPlanner.defaultQuickModeKilobytes : lifetimeKilobytes
    }
}

/// A traffic selector (`local_ts`, `remote_ts`): `dynamic[tcp]`, `198.18.9.2/32[tcp/80]`.
public struct TrafficSelector: Hashable, Sendable {
    public enum Range: Hashable, Sendable {
        /// This computer's own IKE address.
        case dynamic
        /// `address/length`, written as given.
        case prefix(IPv4Address, length: UInt8)
    }

    public var range: Range
    /// 0: any protocol (then no port).
    public var ipProtocol: UInt8
    /// 0: any port.
    public var port: UInt16

    public init(_ range: Range, ipProtocol: UInt8 = 0, port: UInt16 = 0) {
        self.range = range
        self.ipProtocol = ipProtocol
        // Without a protocol the port is not written: keep values equal when their text is.
        self.port = ipProtocol == 0 ? 0 : port
    }

    /// As swanctl.conf writes it.
    public var text: String {
        let address =
            switch range {
            case .dynamic: "dynamic"
            case .prefix(let ip, let length): "\(ip)/\(length)"
            }
        guard ipProtocol != 0 else { return address }
        let name = StrongSwanNames.protocolName(ipProtocol)
        return address + (port == 0 ? "[\(name)]" : "[\(name)/\(port)]")
    }

    /// The same selector for one peer's /32 (a range rule's connection specialised to that peer).
    func narrowed(to peer: IPv4Address) -> TrafficSelector {
        TrafficSelector(.prefix(peer, length: 32), ipProtocol: ipProtocol, port: port)
    }
}
