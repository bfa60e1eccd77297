package import DecisionCore
package import PolicyModel

/// The filters `netsh ipsec dynamic show` lists: every filter in force, from every source, with the
/// dynamic rules as the running batch has left them in place of the dynamic source's.
package struct NetshFiltersInForce {
    /// The generic filters, in merge order. Filters of a default response rule are not among them:
    /// they add nothing to the driver's table (``FilterCompiler``).
    package let policy: EffectivePolicy
    package let host: HostInfo

    package init(_ spd: NetshSPD) {
        host = spd.host
        let inForce = spd.inForce.filters.filter {
            $0.inboundAction.type != .defaultResponse && $0.outboundAction.type != .defaultResponse
        }
        var filters = inForce.filter { $0.provenance.kind != .dynamic }
        // The dynamic rules take the dynamic source's place in the merge order (after local, before
        // the plugins), so that a batch that adds the first dynamic rule lists it where it will be.
        let position =
            inForce.firstIndex { $0.provenance.kind == .dynamic }.map { index in
                inForce[..<index].count(where: { $0.provenance.kind != .dynamic })
            } ?? filters.firstIndex { $0.provenance.kind == .plugin } ?? filters.count
        let source = inForce.first { $0.provenance.kind == .dynamic }?.provenance.source ?? "dynamic"
        filters.insert(contentsOf: spd.policy.effectiveFilters(source: source), at: position)
        policy = EffectivePolicy(generation: spd.inForce.generation, filters: filters)
    }

    /// The specific filters of `generic` (all when `nil`), as the driver holds them: the decision
    /// core's compiler expands `me`, special servers and mirroring against the driver's host
    /// information. Each compiled filter is listed once per direction it decides (from this computer:
    /// outbound; to it: inbound; neither: both), most specific first, ties block, permit, negotiate.
    package func specific(of generic: Set<EffectiveFilter>? = nil) -> NetshSpecificFilters {
        let table = FilterCompiler.compile(policy, host: host)
        let local = Set(host.addresses.map(\.value))
        var result: [NetshSpecificFilter] = []
        for compiled in table.filters {
            let origin = policy.filters[compiled.policyIndex]
            if let generic, !generic.contains(origin) { continue }
            let fromHere = compiled.sourceMask == .max && local.contains(compiled.source)
            let toHere = compiled.destinationMask == .max && local.contains(compiled.destination)
            var directions: [TrafficDirection] = []
            if fromHere || !toHere { directions.append(.outbound) }
            if toHere || !fromHere { directions.append(.inbound) }
            for direction in directions {
                result.append(
                    NetshSpecificFilter(
                        origin: origin,
                        source: Self.address(compiled.source, compiled.sourceMask),
                        destination: Self.address(compiled.destination, compiled.destinationMask),
                        ipProtocol: compiled.ipProtocol,
                        sourcePort: compiled.sourcePort,
                        destinationPort: compiled.destinationPort,
                        direction: direction,
                        action: compiled.action(direction).kind,
                        weight: compiled.weight
                    )
                )
            }
        }
        let unresolved = table.unresolved.map { policy.filters[$0] }.filter { generic?.contains($0) ?? true }
        return NetshSpecificFilters(
            filters: FilterOrdering.sorted(result, weight: \.weight, action: \.action),
            unresolved: unresolved
        )
    }

    private static func address(_ value: UInt32, _ mask: UInt32) -> FilterAddress {
        switch mask {
        case 0: .any
        case .max: .host(IPv4Address(value: value))
        default: .subnet(IPv4Address(value: value), mask: IPv4Address(value: mask))
        }
    }
}

/// The specific filters of some generic ones, and the generic filters that expand to none.
package struct NetshSpecificFilters {
    package var filters: [NetshSpecificFilter]
    /// Filters whose `me` or special server resolves to no address on this computer now: they match
    /// nothing until it has one.
    package var unresolved: [EffectiveFilter]
}

/// One specific filter: one direction, `me` and servers replaced by addresses, with its weight.
package struct NetshSpecificFilter: Hashable, Sendable {
    /// The generic filter (and so the rule and source) it comes from.
    package var origin: EffectiveFilter
    package var source: FilterAddress
    package var destination: FilterAddress
    package var ipProtocol: UInt8
    package var sourcePort: UInt16
    package var destinationPort: UInt16
    package var direction: TrafficDirection
    package var action: FilterActionKind
    package var weight: FilterWeight
}
