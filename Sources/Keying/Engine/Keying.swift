public import DecisionCore
public import PolicyModel

/// IKE keying as the service host and the driver use it: one protocol, Sendable values both ways.
///
/// The service host (the agent) calls ``start()``, ``apply(_:)``, ``status()``,
/// ``associations()``, ``peerState(_:)`` and ``stop()`` from its tasks, one lifecycle call at a time,
/// and runs keying's background work in ``run()``, a `Service` of the `run` process's group.
/// The driver reaches keying only through ``KeyingRequestSink/submit(_:)`` (from queue reader threads;
/// it must return at once) and receives ``peerAssociations()`` snapshots, which the service host
/// forwards with `IPsecDriver.updatePeerAssociations(_:)`. That keeps the driver's side small enough
/// to cross a process boundary unchanged.
public protocol Keying: KeyingRequestSink {
    /// Connects to the IKE daemon and keeps reconnecting when it goes away (through ``run()``).
    func start() async

    /// Keying's background work (the driver's requests, the daemon's events, timers) as children of this
    /// call, from ``start()`` until ``stop()`` or the cancellation of the calling task. Returns at once
    /// when ``stop()`` came before ``start()``.
    func run() async

    /// The effective policy changed: loads, replaces and unloads only the connections and secrets
    /// that differ from what the daemon holds. (Changes of the host's addresses are followed too.)
    func apply(_ policy: EffectivePolicy) async

    /// The peer view the negotiate action needs, each time it changes (first the current one).
    func peerAssociations() async -> AsyncStream<PeerAssociations>

    /// The connection to the daemon, counters, soft associations, unnegotiable rules.
    func status() async -> KeyingStatus

    /// The live main-mode and quick-mode SAs (`netsh ipsec dynamic show mmsas|qmsas`).
    func associations() async throws(KeyingError) -> KeyingAssociations

    /// What keying knows about one peer (`explain`).
    func peerState(_ peer: IPv4Address) async -> PeerKeyingState

    /// Unloads what this service loaded (its SAs go with it) and disconnects.
    func stop() async
}

/// Why keying could not answer.
public enum KeyingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The IKE daemon is not reachable (with the reason).
    case daemonUnavailable(String)

    public var description: String {
        switch self {
        case .daemonUnavailable(let reason): "the IKE daemon (charon) is not available: \(reason)"
        }
    }
}

/// Something keying reports to the service's journal.
public enum KeyingEvent: Hashable, Sendable {
    /// Connected to the daemon (after a start or its restart) and loaded the configuration.
    case daemonConnected(version: String, connections: Int)
    /// The daemon went away: negotiate filters now behave as failed negotiations.
    case daemonLost(reason: String)
    /// charon refused a connection or a secret ipsecsvc generated.
    case loadFailed(name: String, reason: String)
    /// A negotiation ipsecsvc started failed.
    case negotiationFailed(NegotiationFailure)
    /// A negotiate rule cannot be negotiated on Linux (reported once per policy change).
    case notNegotiable(UnnegotiableRule)
    /// A peer under a soft rule did not answer IKE: traffic with it now goes in the clear.
    case softAssociationStarted(peer: IPv4Address, rule: RuleReference)
    /// A soft association was idle for its lifetime (or the peer now speaks IPsec): it is gone.
    case softAssociationEnded(peer: IPv4Address, reason: String)
    /// Main mode and quick mode completed with a peer.
    case negotiated(peer: IPv4Address, rule: RuleReference)
}

/// Where keying's events go (the service host sends them to the journal). Must return quickly.
public protocol KeyingEventSink: Sendable {
    func keyingEvent(_ event: KeyingEvent)
}

/// Why a negotiation failed, in Windows' terms.
public enum NegotiationFailureReason: String, Hashable, Sendable, Codable {
    /// The peer never answered IKE (responder cookie still zero).
    case noAnswer = "no answer"
    /// The peer answered, then authentication failed (wrong pre-shared key, certificate refused).
    case authenticationFailed = "authentication failed"
    /// The peer accepted none of the offered security methods.
    case noProposalChosen = "no proposal chosen"
    /// The rule has no method strongSwan can negotiate (Kerberos only).
    case notNegotiable = "not negotiable"
    /// The daemon is not running or not reachable.
    case daemonUnavailable = "IKE daemon unavailable"
    /// Anything else (the daemon's words are in the detail).
    case failed = "failed"
}

/// One failed negotiation.
public struct NegotiationFailure: Hashable, Sendable, Codable {
    public var peer: IPv4Address
    public var rule: RuleReference
    public var reason: NegotiationFailureReason
    /// The daemon's last relevant log line or error message.
    public var detail: String
    /// Seconds since 1970 UTC.
    public var time: Int64

    public init(peer: IPv4Address, rule: RuleReference, reason: NegotiationFailureReason, detail: String, time: Int64) {
        self.peer = peer
        self.rule = rule
        self.reason = reason
        self.detail = detail
        self.time = time
    }
}
