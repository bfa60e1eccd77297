public import PolicyModel

/// What `ipsecsvc status` shows about IKE.
public struct KeyingStatus: Hashable, Sendable, Codable {
    /// `strongswan` (keying on) or `none`.
    public var mode: String
    public var viciSocket: String
    public var datapath: String
    /// Whether the daemon answers now.
    public var connected: Bool
    /// The daemon's name and version (`charon-systemd 5.9.8`), when connected.
    public var daemon: String?
    /// Why the daemon is not reachable, when it is not.
    public var lastError: String?
    /// Connections ipsecsvc has loaded into the daemon (per-peer ones included).
    public var connections: Int
    /// Pre-shared keys and private keys loaded (only their number: secrets are never shown).
    public var secrets: Int
    /// Negotiations, failures by reason, soft associations, main and quick modes.
    public var counters: [String: UInt64]
    public var softAssociations: [SoftAssociationStatus]
    public var unnegotiable: [UnnegotiableRule]
    /// The last failed negotiations, newest last.
    public var recentFailures: [NegotiationFailure]
    /// What of the policy has no strongSwan counterpart (left out of the configuration).
    public var notes: [String]

    public init(
        mode: String,
        viciSocket: String,
        datapath: String,
        connected: Bool = false,
        daemon: String? = nil,
        lastError: String? = nil,
        connections: Int = 0,
        secrets: Int = 0,
        counters: [String: UInt64] = [:],
        softAssociations: [SoftAssociationStatus] = [],
        unnegotiable: [UnnegotiableRule] = [],
        recentFailures: [NegotiationFailure] = [],
        notes: [String] = []
    ) {
        self.mode = mode
        self.viciSocket = viciSocket
        self.datapath = datapath
        self.connected = connected
        self.daemon = daemon
        self.lastError = lastError
        self.connections = connections
        self.secrets = secrets
        self.counters = counters
        self.softAssociations = softAssociations
        self.unnegotiable = unnegotiable
        self.recentFailures = recentFailures
        self.notes = notes
    }
}

/// One soft association: a peer that did not answer IKE under a soft rule.
public struct SoftAssociationStatus: Hashable, Sendable, Codable {
    public var peer: IPv4Address
    public var rule: RuleReference
    /// Seconds since 1970 UTC.
    public var since: Int64
    /// Seconds without traffic after which it goes.
    public var idleLimitSeconds: UInt32
    /// Seconds since traffic last used it.
    public var idleSeconds: Int64
    /// The service's own time from the start of the negotiation (the keying engine's receipt of the first
    /// packet's request) to this association: the soft delay (Windows: 3 s) and the check that the peer
    /// never answered. `nil` from an agent that does not report it.
    public var fallbackMilliseconds: Int64?

    public init(
        peer: IPv4Address,
        rule: RuleReference,
        since: Int64,
        idleLimitSeconds: UInt32,
        idleSeconds: Int64,
        fallbackMilliseconds: Int64? = nil
    ) {
        self.peer = peer
        self.rule = rule
        self.since = since
        self.idleLimitSeconds = idleLimitSeconds
        self.idleSeconds = idleSeconds
        self.fallbackMilliseconds = fallbackMilliseconds
    }
}

/// A main-mode SA (an IKE SA), as `show mmsas` lists it.
public struct MainModeAssociation: Hashable, Sendable, Codable {
    public var connection: String
    /// The rule the connection serves, when it is one of ipsecsvc's.
    public var rule: RuleReference?
    public var local: String
    public var remote: String
    public var localID: String
    public var remoteID: String
    public var state: String
    public var initiator: Bool
    public var initiatorCookie: String
    public var responderCookie: String
    public var encryption: String
    public var integrity: String
    public var group: String
    public var establishedSeconds: Int?
    public var reauthenticationSeconds: Int?

    public init(
        connection: String,
        rule: RuleReference? = nil,
        local: String,
        remote: String,
        localID: String = "",
        remoteID: String = "",
        state: String,
        initiator: Bool,
        initiatorCookie: String = "",
        responderCookie: String = "",
        encryption: String = "",
        integrity: String = "",
        group: String = "",
        establishedSeconds: Int? = nil,
        reauthenticationSeconds: Int? = nil
    ) {
        self.connection = connection
        self.rule = rule
        self.local = local
        self.remote = remote
        self.localID = localID
        self.remoteID = remoteID
        self.state = state
        self.initiator = initiator
        self.initiatorCookie = initiatorCookie
        self.responderCookie = responderCookie
        self.encryption = encryption
        self.integrity = integrity
        self.group = group
        self.establishedSeconds = establishedSeconds
        self.reauthenticationSeconds = reauthenticationSeconds
    }
}

/// A quick-mode SA pair (a CHILD_SA), as `show qmsas` lists it.
public struct QuickModeAssociation: Hashable, Sendable, Codable {
    public var connection: String
    public var rule: RuleReference?
    public var local: String
    public var remote: String
    public var localSelectors: [String]
    public var remoteSelectors: [String]
    /// `ESP` or `AH`.
    public var protocolName: String
    /// `TUNNEL` or `TRANSPORT` (libipsec host-to-host tunnels stand in for transport mode).
    public var mode: String
    public var encryption: String
    public var integrity: String
    public var spiIn: String
    public var spiOut: String
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var packetsIn: UInt64
    public var packetsOut: UInt64
    public var lifetimeSeconds: Int?
    public var rekeySeconds: Int?

    public init(
        connection: String,
        rule: RuleReference? = nil,
        local: String,
        remote: String,
        localSelectors: [String] = [],
        remoteSelectors: [String] = [],
        protocolName: String = "ESP",
        mode: String = "",
        encryption: String = "",
        integrity: String = "",
        spiIn: String = "",
        spiOut: String = "",
        bytesIn: UInt64 = 0,
        bytesOut: UInt64 = 0,
        packetsIn: UInt64 = 0,
        packetsOut: UInt64 = 0,
        lifetimeSeconds: Int? = nil,
        rekeySeconds: Int? = nil
    ) {
        self.connection = connection
        self.rule = rule
        self.local = local
        self.remote = remote
        self.localSelectors = localSelectors
        self.remoteSelectors = remoteSelectors
        self.protocolName = protocolName
        self.mode = mode
        self.encryption = encryption
        self.integrity = integrity
        self.spiIn = spiIn
        self.spiOut = spiOut
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.packetsIn = packetsIn
        self.packetsOut = packetsOut
        self.lifetimeSeconds = lifetimeSeconds
        self.rekeySeconds = rekeySeconds
    }
}

/// Every live SA and soft association.
public struct KeyingAssociations: Hashable, Sendable, Codable {
    public var mainModes: [MainModeAssociation]
    public var quickModes: [QuickModeAssociation]
    public var softAssociations: [SoftAssociationStatus]

    public init(
        mainModes: [MainModeAssociation] = [],
        quickModes: [QuickModeAssociation] = [],
        softAssociations: [SoftAssociationStatus] = []
    ) {
        self.mainModes = mainModes
        self.quickModes = quickModes
        self.softAssociations = softAssociations
    }

    /// Reads charon's `list-sa` events.
    public static func parse(_ items: [ViciMessage], rules: [String: RuleReference]) -> KeyingAssociations {
        var result = KeyingAssociations()
        for item in items {
            for (name, sa) in item.sections {
                let rule = rules[name]
                let local = sa.string("local-host") ?? ""
                let remote = sa.string("remote-host") ?? ""
                result.mainModes.append(
                    MainModeAssociation(
                        connection: name,
                        rule: rule,
                        local: local,
                        remote: remote,
                        localID: sa.string("local-id") ?? "",
                        remoteID: sa.string("remote-id") ?? "",
                        state: sa.string("state") ?? "",
                        initiator: sa.string("initiator") == "yes",
                        initiatorCookie: sa.string("initiator-spi") ?? "",
                        responderCookie: sa.string("responder-spi") ?? "",
                        encryption: sa.string("encr-alg").map { name in
                            sa.string("encr-keysize").map { "\(name)-\($0)" } ?? name
                        } ?? "",
                        integrity: sa.string("integ-alg") ?? "",
                        group: sa.string("dh-group") ?? "",
                        establishedSeconds: sa.string("established").flatMap { Int($0) },
                        reauthenticationSeconds: sa.string("reauth-time").flatMap { Int($0) }
                    )
                )
                for (_, child) in sa.section("child-sas")?.sections ?? [] {
                    result.quickModes.append(
                        QuickModeAssociation(
                            connection: name,
                            rule: rule,
                            local: local,
                            remote: remote,
                            localSelectors: child.strings("local-ts") ?? [],
                            remoteSelectors: child.strings("remote-ts") ?? [],
                            protocolName: child.string("protocol") ?? "ESP",
                            mode: child.string("mode") ?? "",
                            encryption: child.string("encr-alg") ?? "",
                            integrity: child.string("integ-alg") ?? "",
                            spiIn: child.string("spi-in") ?? "",
                            spiOut: child.string("spi-out") ?? "",
                            bytesIn: child.string("bytes-in").flatMap { UInt64($0) } ?? 0,
                            bytesOut: child.string("bytes-out").flatMap { UInt64($0) } ?? 0,
                            packetsIn: child.string("packets-in").flatMap { UInt64($0) } ?? 0,
                            packetsOut: child.string("packets-out").flatMap { UInt64($0) } ?? 0,
                            lifetimeSeconds: child.string("life-time").flatMap { Int($0) },
                            rekeySeconds: child.string("rekey-time").flatMap { Int($0) }
                        )
                    )
                }
            }
        }
        return result
    }
}

/// What keying knows about one peer, for `explain`.
public struct PeerKeyingState: Hashable, Sendable, Codable {
    /// Keying is on.
    public var enabled: Bool
    /// An established main mode and at least one installed quick mode with the peer.
    public var hasSecurityAssociation: Bool
    public var softAssociation: Bool
    public var negotiating: Bool
    public var lastFailure: NegotiationFailure?
    /// Why the answer is incomplete (daemon unavailable).
    public var note: String?

    public init(
        enabled: Bool,
        hasSecurityAssociation: Bool = false,
        softAssociation: Bool = false,
        negotiating: Bool = false,
        lastFailure: NegotiationFailure? = nil,
        note: String? = nil
    ) {
        self.enabled = enabled
        self.hasSecurityAssociation = hasSecurityAssociation
        self.softAssociation = softAssociation
        self.negotiating = negotiating
        self.lastFailure = lastFailure
        self.note = note
    }
}
