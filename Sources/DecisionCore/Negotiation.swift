public import PolicyModel

/// What the packet path asks of IKE keying (driver → keying). Plain values: when the driver runs
/// in a process of its own they cross its socket unchanged.
public enum KeyingRequest: Hashable, Sendable, Codable {
    /// A clear outbound packet matched a negotiate filter and no SA protects it: negotiate with
    /// its peer.
    case negotiate(NegotiationRequest)
    /// Clear traffic with a soft peer passed: its soft association is in use (keeps it alive).
    case softAssociationUsed(IPv4Address)
}

/// "Negotiation needed for peer P, filter F": the first packet of a flow that needs an SA.
public struct NegotiationRequest: Hashable, Sendable, Codable {
    /// This computer's address the packet came from.
    public var local: IPv4Address
    public var peer: IPv4Address
    /// The deciding filter's index in the effective policy (``CompiledFilter/policyIndex``).
    public var filterIndex: Int
    /// The generation of that policy (keying ignores requests made under another one).
    public var generation: UInt64

    public init(local: IPv4Address, peer: IPv4Address, filterIndex: Int, generation: UInt64) {
        self.local = local
        self.peer = peer
        self.filterIndex = filterIndex
        self.generation = generation
    }
}

/// Receives the packet path's keying requests.
///
/// Called on a queue reader thread, at most a few times per second and peer; must return at once
/// (queue the request, never wait for keying).
public protocol KeyingRequestSink: Sendable {
    func submit(_ request: KeyingRequest)
}

/// Keying's view of the peers as the decision needs it (keying → driver): a snapshot the driver
/// holds and replaces as a whole.
public struct PeerAssociations: Hashable, Sendable, Codable {
    /// Peers that never answered IKE under a soft filter: clear traffic with them passes (both
    /// directions) until the soft association has been idle for its lifetime.
    public var softPeers: Set<IPv4Address>
    /// Peers keying is negotiating with: clear packets to them are dropped and counted as
    /// "negotiating" (not queued: held packets would only be re-sent by the application anyway).
    public var negotiating: Set<IPv4Address>

    public init(softPeers: Set<IPv4Address> = [], negotiating: Set<IPv4Address> = []) {
        self.softPeers = softPeers
        self.negotiating = negotiating
    }

    public static let none = PeerAssociations()
}
