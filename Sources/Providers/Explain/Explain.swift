public import PolicyModel

/// `ipsecsvc explain`: which filters of which sources match a packet, in the driver's weight order, and
/// what happens to it.
public struct Explanation: Hashable, Sendable, Codable {
    /// One matching filter.
    public struct MatchingFilter: Hashable, Sendable, Codable {
        /// Position in the effective policy's merge order.
        public var index: Int
        public var weight: Int
        public var match: PacketMatcher.Match
        /// The action for this packet's direction.
        public var action: FilterActionKind
        public var filterActionName: String
        public var filter: Filter
        public var provenance: Provenance
        /// Negotiate only: unsecured inbound accepted (`inpass`).
        public var inboundPassThrough: Bool
        /// Negotiate only: fall back to clear (`soft`).
        public var allowFallbackToClear: Bool
    }

    /// What happens to the packet.
    public enum Verdict: String, Hashable, Sendable, Codable {
        /// No filter matches, or the winner permits.
        case permit
        case block
        /// The winner negotiates; protected traffic passes, clear traffic passes only as ``detail`` says.
        case negotiate
        /// Decided before any filter (IKE).
        case exempt
    }

    public var packet: PacketQuery
    public var direction: PacketDirection
    /// Every matching filter, in the order the driver consults them (the first one decides).
    public var matches: [MatchingFilter]
    public var verdict: Verdict
    /// One sentence for the verdict.
    public var detail: String

    /// The deciding filter.
    public var winner: MatchingFilter? { verdict == .exempt ? nil : matches.first }
}

/// Builds ``Explanation``s. Pure: the same policy, packet and resolver give the same answer.
public enum Explainer {
    /// The ports of IKE, exempt from filtering at every `ipsecexempt` level.
    static let ikePort: UInt16 = 500

    public static func explain(
        _ packet: PacketQuery,
        in policy: EffectivePolicy,
        resolver: any AddressResolver
    ) -> Explanation {
        let local = resolver.localAddresses()
        let direction =
            packet.direction
            ?? (local.contains(packet.source) || !local.contains(packet.destination) ? .outbound : .inbound)
        if packet.ipProtocol == IPProtocol.udp && (packet.sourcePort == ikePort || packet.destinationPort == ikePort) {
            return Explanation(
                packet: packet,
                direction: direction,
                matches: [],
                verdict: .exempt,
                detail: "IKE (UDP 500) is exempt from IPsec filtering and is decided before any filter."
            )
        }
        var matches: [Explanation.MatchingFilter] = []
        for (index, effective) in policy.filters.enumerated() {
            guard let match = PacketMatcher.match(effective.filter, packet, resolver: resolver) else { continue }
            let action = direction == .inbound ? effective.inboundAction : effective.outboundAction
            matches.append(
                Explanation.MatchingFilter(
                    index: index,
                    weight: FilterWeight(effective.filter).value,
                    match: match,
                    action: action.action,
                    filterActionName: action.name,
                    filter: effective.filter,
                    provenance: effective.provenance,
                    inboundPassThrough: action.inboundPassThrough,
                    allowFallbackToClear: action.allowFallbackToClear
                )
            )
        }
        // The driver's order (PolicyModel's FilterOrdering): weight, then block > permit > negotiate, then
        // merge order, which is the order `matches` was collected in.
        let sorted = FilterOrdering.sorted(matches, weight: { FilterWeight($0.filter) }, action: { $0.action })
        let (verdict, detail) = decide(sorted.first, direction: direction)
        return Explanation(packet: packet, direction: direction, matches: sorted, verdict: verdict, detail: detail)
    }

    private static func decide(
        _ winner: Explanation.MatchingFilter?,
        direction: PacketDirection
    ) -> (Explanation.Verdict, String) {
        guard let winner else { return (.permit, "No filter matches: the packet is permitted.") }
        let origin = "filter action \"\(winner.filterActionName)\" of rule \"\(winner.provenance.ruleName)\""
        switch winner.action {
        case .permit:
            return (.permit, "Permitted by \(origin).")
        case .block:
            return (.block, "Blocked by \(origin).")
        case .negotiate:
            let clear: String
            switch direction {
            case .inbound:
                clear =
                    winner.inboundPassThrough
                    ? "unsecured inbound traffic is accepted (inbound pass-through)"
                    : "unsecured inbound traffic is dropped (negotiation required)"
            case .outbound:
                clear =
                    winner.allowFallbackToClear
                    ? "unsecured outbound traffic is sent if the peer does not answer IKE (fall back to clear)"
                    : "unsecured outbound traffic is dropped (negotiation required)"
            }
            return (.negotiate, "Security is negotiated by \(origin); IPsec-protected traffic passes, \(clear).")
        }
    }
}
