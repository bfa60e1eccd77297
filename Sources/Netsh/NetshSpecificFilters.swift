public import PolicyModel

/// One filter as the driver holds it: one direction, `me` replaced by a local address, with its weight.
package struct NetshSpecificFilter: Hashable, Sendable {
    /// The generic filter (dynamic rule) it comes from.
    package var ruleID: IPsecGUID
    package var source: FilterAddress
    package var destination: FilterAddress
    package var ipProtocol: UInt8
    package var sourcePort: UInt16
    package var destinationPort: UInt16
    package var outbound: Bool
    package var action: FilterActionKind
    package var weight: FilterWeight
}

/// Generic → specific expansion of dynamic rules (windows-ipsec.md §4.1): a mirrored filter
/// becomes one filter per direction, and `me` one filter per local address. ipsecsvc computes this
/// from the model; the service's driver orders the same filters by the same ``FilterWeight``.
package enum NetshSpecificFilters {
    package static func expand(_ rules: [DynamicRule], localAddresses: [IPv4Address]) -> [NetshSpecificFilter] {
        var result: [NetshSpecificFilter] = []
        for rule in rules {
            var directions = [
                (rule.filter.source, rule.filter.destination, rule.filter.sourcePort, rule.filter.destinationPort)
            ]
            if rule.filter.mirrored {
                directions.append(
                    (rule.filter.destination, rule.filter.source, rule.filter.destinationPort, rule.filter.sourcePort)
                )
            }
            for (source, destination, sourcePort, destinationPort) in directions {
                // A filter from this computer is outbound; one to this computer inbound; transit goes both ways as outbound.
                let outbound = !(destination == .me && source != .me)
                for specificSource in expandMe(source, localAddresses) {
                    for specificDestination in expandMe(destination, localAddresses) {
                        let filter = Filter(
                            id: rule.id,
                            mirrored: false,
                            source: specificSource,
                            destination: specificDestination,
                            ipProtocol: rule.filter.ipProtocol,
                            sourcePort: sourcePort,
                            destinationPort: destinationPort
                        )
                        result.append(
                            NetshSpecificFilter(
                                ruleID: rule.id,
                                source: specificSource,
                                destination: specificDestination,
                                ipProtocol: rule.filter.ipProtocol,
                                sourcePort: sourcePort,
                                destinationPort: destinationPort,
                                outbound: outbound,
                                action: outbound ? rule.actionOutbound : rule.actionInbound,
                                weight: FilterWeight(filter)
                            )
                        )
                    }
                }
            }
        }
        // Most specific first; among equal weights block, then permit, then negotiate (stable).
        return FilterOrdering.sorted(result, weight: \.weight, action: \.action)
    }

    private static func expandMe(_ side: FilterAddress, _ locals: [IPv4Address]) -> [FilterAddress] {
        guard side == .me, !locals.isEmpty else { return [side] }
        return locals.map { .host($0) }
    }
}
