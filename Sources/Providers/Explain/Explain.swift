public import DecisionCore
public import PolicyModel

/// `ipsecsvc explain`: what the driver does with a packet and why — the mode, exemptions, every filter
/// of every source that selects it in the driver's order, the rules skipped for their connection type.
public struct Explanation: Hashable, Sendable, Codable {
    /// One matching filter.
    public struct MatchingFilter: Hashable, Sendable, Codable {
        /// Position in the effective policy's merge order.
        public var index: Int
        public var weight: Int
        public var match: Match
        /// The action for this packet's direction.
        public var action: FilterActionKind
        public var filterActionName: String
        public var filter: Filter
        public var provenance: Provenance
        /// Negotiate only: unsecured inbound accepted (`inpass`).
        public var inboundPassThrough: Bool
        /// Negotiate only: fall back to clear (`soft`).
        public var allowFallbackToClear: Bool
        /// The connection type of the filter's rule.
        public var connectionType: InterfaceType
    }

    /// How a filter matched.
    public enum Match: String, Hashable, Sendable, Codable {
        /// As configured: source to destination.
        case direct
        /// By its mirror: destination to source.
        case mirrored
    }

    /// What happens to the packet.
    public enum Verdict: String, Hashable, Sendable, Codable {
        /// No filter matches, the winner permits, or the mode lets everything through.
        case permit
        /// A block filter decides, or the mode drops the packet.
        case block
        /// The winner negotiates; protected traffic passes, clear traffic passes only as ``detail`` says.
        case negotiate
        /// Decided before any filter: IKE, a default (`ipsecexempt`) or boot exemption, DHCP, loopback.
        case exempt
    }

    /// The interface the packet was explained for.
    public struct Interface: Hashable, Sendable, Codable {
        /// `nil` when none was named (a LAN interface is assumed).
        public var name: String?
        public var kind: InterfaceKind
        /// Why the interface has that connection type.
        public var why: String
    }

    public var packet: PacketQuery
    public var direction: PacketDirection
    public var interface: Interface
    /// What `me` is: this computer's addresses (interfaces that are up, not loopback).
    public var me: [IPv4Address]
    /// The driver mode decided in (`secure`, `startup stateful`, ...; `none` before the service reached
    /// one).
    public var mode: String
    /// Every matching filter of the packet's connection type, in the order the driver consults them
    /// (the first one decides when a filter decides).
    public var matches: [MatchingFilter]
    /// Filters that select the packet but belong to rules of another connection type.
    public var skipped: [MatchingFilter]
    public var verdict: Verdict
    /// Whether the packet passes.
    public var accepted: Bool
    /// The driver's reason (its counter name: `blocked`, `exempt-ike`, `mode-block`, ...).
    public var reason: String
    /// Whether a filter decided (the first of ``matches``), rather than the mode or an exemption.
    public var decidedByFilter: Bool
    /// One sentence for the verdict.
    public var detail: String
    /// What `explain` assumed (one sentence each): offline mode and settings, the interface, clear
    /// traffic.
    public var assumptions: [String]
    /// For a negotiate verdict of the running service: whether IKE has SAs with the peer, a soft
    /// association, a negotiation in progress, or why its last one failed (`nil`: not asked).
    public var keying: String? = nil

    /// The deciding filter.
    public var winner: MatchingFilter? { decidedByFilter ? matches.first : nil }
}

/// Builds ``Explanation``s with the driver's own compiler and decision (DecisionCore): the same
/// policy, packet and environment give the verdict the driver gives.
public enum Explainer {
    public static func explain(
        _ packet: PacketQuery,
        in policy: EffectivePolicy,
        environment: ExplainEnvironment
    ) -> Explanation {
        var assumptions = environment.assumptions
        var settings = environment.settings
        if let mode = packet.mode {
            settings.mode = mode
            assumptions.append("Decided in mode \(mode) as asked (--mode).")
        }
        let host = environment.host
        let local = Set(host.addresses)
        let direction =
            packet.direction
            ?? (local.contains(packet.source) || !local.contains(packet.destination) ? .outbound : .inbound)
        let interface = Self.interface(packet.interface, host: host, classifier: environment.classifier)
        if packet.interface == nil {
            assumptions.append("No --interface given: the packet is assumed to use a LAN interface.")
        }
        let key = packet.key
        if key.sourcePort != packet.sourcePort || key.destinationPort != packet.destinationPort {
            assumptions.append("Ports are ignored: the driver reads ports of TCP and UDP packets only.")
        }
        let protected = packet.protected ?? false
        if packet.protected == nil && Self.negotiates(policy) {
            assumptions.append("The packet is assumed not to be protected by IPsec (--protected assumes it is).")
        }
        let table = FilterCompiler.compile(policy, host: host)
        let context = DecisionContext(
            table: table,
            settings: settings,
            host: host,
            securityAssociations: AssumedSecurityAssociations(protected: protected)
        )
        let trace = context.trace(key, direction: direction.traffic, mark: 0, interface: interface.kind)
        let matches = Self.filters(trace.candidates, table, direction)
        let skipped = Self.filters(trace.skipped, table, direction)
        let decision = trace.decision
        let decidedByFilter = decision.filter != nil
        var explanation = Explanation(
            packet: packet,
            direction: direction,
            interface: interface,
            me: host.addresses,
            mode: settings.mode?.description ?? "none",
            matches: matches,
            skipped: skipped,
            verdict: Self.verdict(decision.reason),
            accepted: decision.accepts,
            reason: decision.reason.description,
            decidedByFilter: decidedByFilter,
            detail: "",
            assumptions: assumptions
        )
        if let index = decision.filter {
            // The decision's filter is the first applicable candidate (the index reproduces the
            // reference order); name it from the decision itself all the same.
            let policyIndex = table.filters[index].policyIndex
            if let position = explanation.matches.firstIndex(where: { $0.index == policyIndex }), position != 0 {
                explanation.matches.insert(explanation.matches.remove(at: position), at: 0)
            }
        }
        explanation.detail = Self.detail(decision.reason, explanation.winner, direction, settings)
        return explanation
    }

    /// The interface named `name` (or an assumed LAN interface) and why it has its connection type.
    static func interface(
        _ name: String?,
        host: HostInfo,
        classifier: InterfaceClassifier
    ) -> Explanation.Interface {
        guard let name else { return Explanation.Interface(name: nil, kind: .lan, why: "assumed") }
        if let known = host.interface(named: name) {
            return Explanation.Interface(name: name, kind: known.kind, why: known.kindReason)
        }
        let (kind, why) = classifier.classify(name: name, hardwareType: nil, deviceType: nil)
        return Explanation.Interface(
            name: name,
            kind: kind,
            why: "not an interface of this computer now: classified by its name only (\(why))"
        )
    }

    static func negotiates(_ policy: EffectivePolicy) -> Bool {
        policy.filters.contains { $0.inboundAction.action == .negotiate || $0.outboundAction.action == .negotiate }
    }

    /// The configured filters behind compiled filters `indices`, in their order, each once.
    static func filters(
        _ indices: [Int],
        _ table: FilterTable,
        _ direction: PacketDirection
    ) -> [Explanation.MatchingFilter] {
        var seen: Set<Int> = []
        var result: [Explanation.MatchingFilter] = []
        for index in indices {
            let compiled = table.filters[index]
            guard seen.insert(compiled.policyIndex).inserted else { continue }
            let effective = table.policy.filters[compiled.policyIndex]
            let action = direction == .inbound ? effective.inboundAction : effective.outboundAction
            result.append(
                Explanation.MatchingFilter(
                    index: compiled.policyIndex,
                    weight: compiled.weight.value,
                    match: compiled.isMirror ? .mirrored : .direct,
                    action: action.action,
                    filterActionName: action.name,
                    filter: effective.filter,
                    provenance: effective.provenance,
                    inboundPassThrough: action.inboundPassThrough,
                    allowFallbackToClear: action.allowFallbackToClear,
                    connectionType: effective.interfaceType
                )
            )
        }
        return result
    }

    static func verdict(_ reason: DecisionReason) -> Explanation.Verdict {
        switch reason {
        case .noMatch, .permitted, .modePermit, .startupPermit, .startupOutbound, .startupReply: .permit
        case .blocked, .modeBlock, .startupBlocked, .malformed: .block
        case .protected, .clearInboundPassThrough, .clearFallback, .negotiationRequired, .negotiating: .negotiate
        case .exemptIKE, .exemptMulticast, .exemptBroadcast, .exemptRSVP, .exemptKerberos, .loopback, .startupDHCP,
            .bootExemption, .notIPv4:
            .exempt
        }
    }

    static func detail(
        _ reason: DecisionReason,
        _ winner: Explanation.MatchingFilter?,
        _ direction: PacketDirection,
        _ settings: DecisionSettings
    ) -> String {
        let origin =
            winner.map {
                "filter action \"\($0.filterActionName)\" of rule \"\($0.provenance.ruleName)\""
            } ?? "no filter"
        switch reason {
        case .noMatch: return "No filter matches: the packet is permitted."
        case .permitted: return "Permitted by \(origin)."
        case .blocked: return "Blocked by \(origin)."
        case .protected: return "Security is negotiated by \(origin); the packet is protected by IPsec and passes."
        case .clearInboundPassThrough:
            return
                "Security is negotiated by \(origin); unsecured inbound traffic is accepted (inbound pass-through)."
        case .clearFallback:
            return
                "Security is negotiated by \(origin); unsecured outbound traffic is sent if the peer does not answer IKE (fall back to clear)."
        case .negotiationRequired:
            let side = direction == .inbound ? "inbound" : "outbound"
            return
                "Security is negotiated by \(origin); IPsec-protected traffic passes, unsecured \(side) traffic is dropped (negotiation required)."
        case .negotiating:
            return
                "Security is negotiated by \(origin); IKE is negotiating with the peer now: unsecured outbound traffic is dropped until the security associations are up."
        case .exemptIKE:
            return "IKE (UDP 500 and 4500) is exempt from IPsec filtering and is decided before any filter."
        case .exemptMulticast, .exemptBroadcast, .exemptRSVP, .exemptKerberos:
            return
                "Exempt from IPsec filtering by ipsecexempt \(settings.exemptionLevel) (\(reason)), before any filter."
        case .loopback: return "Loopback traffic is never filtered."
        case .modeBlock:
            return "The driver is in block mode (the persistent policy failed): every packet is dropped, no exemptions."
        case .modePermit: return "The driver is in permit mode: nothing is filtered."
        case .startupPermit: return "The driver is in startup permit mode: nothing is filtered."
        case .startupOutbound: return "The driver is in startup stateful mode: outbound traffic passes."
        case .startupReply:
            return "The driver is in startup stateful mode: a reply to a connection this computer opened passes."
        case .startupDHCP: return "The driver is in a startup mode: DHCP passes."
        case .bootExemption: return "The driver is in a startup mode: a boot exemption (bootexemptions) lets it pass."
        case .startupBlocked:
            let mode = settings.mode?.description ?? "startup"
            return direction == .inbound && settings.mode == .startup(.stateful)
                ? "The driver is in \(mode) mode: inbound traffic that is not a reply to a connection this computer opened is dropped."
                : "The driver is in \(mode) mode: everything but DHCP and the boot exemptions is dropped."
        case .notIPv4: return "Not IPv4: the driver does not filter it."
        case .malformed: return "The header cannot be read: dropped."
        }
    }
}
