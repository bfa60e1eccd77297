public import PolicyModel

/// Turns an effective policy into an immutable ``FilterTable``.
///
/// - `me` becomes one specific filter per host address, special servers one per server address;
///   a side that resolves to nothing makes the filter match nothing (listed in
///   ``FilterTable/unresolved``).
/// - A mirrored filter adds its reverse (source and destination, and the ports, swapped) with the
///   same weight and actions.
/// - Ports count only for TCP, UDP and any protocol, as in Windows.
/// - Filters of the default response rule add nothing (windows-ipsec.md §4.6).
/// - Each filter keeps its rule's connection type (``CompiledFilter/interfaceType``).
public enum FilterCompiler {
    public static func compile(_ policy: EffectivePolicy, host: HostInfo) -> FilterTable {
        var compiled: [CompiledFilter] = []
        compiled.reserveCapacity(policy.filters.count * 2)
        var unresolved: [Int] = []
        for (index, effective) in policy.filters.enumerated() {
            if effective.inboundAction.type == .defaultResponse || effective.outboundAction.type == .defaultResponse {
                continue
            }
            let filter = effective.filter
            let sources = resolve(filter.source, host)
            let destinations = resolve(filter.destination, host)
            if sources.isEmpty || destinations.isEmpty {
                unresolved.append(index)
                continue
            }
            let portsApply =
                filter.ipProtocol == IPProtocol.any || filter.ipProtocol == IPProtocol.tcp
                || filter.ipProtocol == IPProtocol.udp
            let sourcePort = portsApply ? filter.sourcePort : 0
            let destinationPort = portsApply ? filter.destinationPort : 0
            let weight = FilterWeight(filter)
            let inbound = ActionSpec(effective.inboundAction)
            let outbound = ActionSpec(effective.outboundAction)
            for source in sources {
                for destination in destinations {
                    let forward = CompiledFilter(
                        source: source.address & source.mask,
                        sourceMask: source.mask,
                        destination: destination.address & destination.mask,
                        destinationMask: destination.mask,
                        ipProtocol: filter.ipProtocol,
                        sourcePort: sourcePort,
                        destinationPort: destinationPort,
                        weight: weight,
                        inbound: inbound,
                        outbound: outbound,
                        policyIndex: index,
                        isMirror: false,
                        interfaceType: effective.interfaceType
                    )
                    compiled.append(forward)
                    guard filter.mirrored else { continue }
                    var mirror = forward
                    mirror.source = forward.destination
                    mirror.sourceMask = forward.destinationMask
                    mirror.destination = forward.source
                    mirror.destinationMask = forward.sourceMask
                    mirror.sourcePort = forward.destinationPort
                    mirror.destinationPort = forward.sourcePort
                    mirror.isMirror = true
                    var same = mirror
                    same.isMirror = false
                    if same != forward { compiled.append(mirror) }
                }
            }
        }
        return FilterTable(generation: policy.generation, policy: policy, filters: compiled, unresolved: unresolved)
    }

    static func resolve(_ address: FilterAddress, _ host: HostInfo) -> [(address: UInt32, mask: UInt32)] {
        switch address {
        case .me: host.addresses.map { ($0.value, UInt32.max) }
        case .any: [(0, 0)]
        case .host(let ip): [(ip.value, UInt32.max)]
        case .subnet(let ip, let mask): [(ip.value & mask.value, mask.value)]
        case .dnsName(_, let ip): [(ip.value, UInt32.max)]
        case .server(let kind): host.servers(kind).map { ($0.value, UInt32.max) }
        }
    }
}
