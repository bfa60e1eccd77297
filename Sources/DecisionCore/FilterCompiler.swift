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
///
/// Incremental: given the table in force as `previous`, a policy whose specific filters differ from
/// it only in their actions (the usual change of a rule's filter action, or of a filter's
/// inbound/outbound action) reuses its shapes, slots and indexes and patches what the actions
/// decide; any other change is compiled in full. Either way the result is the table a full compile
/// gives (`IncrementalCompileTests`).
public enum FilterCompiler {
    public static func compile(_ policy: EffectivePolicy, host: HostInfo, previous: FilterTable? = nil) -> FilterTable {
        var compiled: [CompiledFilter] = []
        compiled.reserveCapacity(policy.filters.count * 2)
        var unresolved: [Int] = []
        // `me` and the special servers, resolved once for the whole policy.
        let me = host.addresses.map { (address: $0.value, mask: UInt32.max) }
        let servers = Dictionary(
            uniqueKeysWithValues: SpecialServer.allCases.map { kind in
                (kind, host.servers(kind).map { (address: $0.value, mask: UInt32.max) })
            }
        )
        var sources: [(address: UInt32, mask: UInt32)] = []
        var destinations: [(address: UInt32, mask: UInt32)] = []
        // Each filter's actions and connection type live in its context box, one heap object per rule
        // or filter: read them all first in a tight loop, whose cache misses overlap, and the actions'
        // fields in place rather than the actions (no reference counting per filter).
        let contexts = policy.filters.map { (actions: $0.actionFields, interfaceType: $0.interfaceType) }
        policy.filters.withUnsafeBufferPointer { filters in
            for index in filters.indices {
                let actions = contexts[index].actions
                if actions.inbound.type == .defaultResponse || actions.outbound.type == .defaultResponse { continue }
                resolve(filters[index].filter.source, me, servers, into: &sources)
                resolve(filters[index].filter.destination, me, servers, into: &destinations)
                if sources.isEmpty || destinations.isEmpty {
                    unresolved.append(index)
                    continue
                }
                let ipProtocol = filters[index].filter.ipProtocol
                let portsApply =
                    ipProtocol == IPProtocol.any || ipProtocol == IPProtocol.tcp || ipProtocol == IPProtocol.udp
                let sourcePort = portsApply ? filters[index].filter.sourcePort : 0
                let destinationPort = portsApply ? filters[index].filter.destinationPort : 0
                let mirrored = filters[index].filter.mirrored
                let weight = FilterWeight(filters[index].filter)
                let inbound = ActionSpec(actions.inbound)
                let outbound = ActionSpec(actions.outbound)
                let interfaceType = contexts[index].interfaceType
                for source in sources {
                    for destination in destinations {
                        let forward = CompiledFilter(
                            source: source.address & source.mask,
                            sourceMask: source.mask,
                            destination: destination.address & destination.mask,
                            destinationMask: destination.mask,
                            ipProtocol: ipProtocol,
                            sourcePort: sourcePort,
                            destinationPort: destinationPort,
                            weight: weight,
                            inbound: inbound,
                            outbound: outbound,
                            policyIndex: index,
                            isMirror: false,
                            interfaceType: interfaceType
                        )
                        compiled.append(forward)
                        guard mirrored else { continue }
                        var mirror = forward
                        mirror.source = forward.destination
                        mirror.sourceMask = forward.destinationMask
                        mirror.destination = forward.source
                        mirror.destinationMask = forward.sourceMask
                        mirror.sourcePort = forward.destinationPort
                        mirror.destinationPort = forward.sourcePort
                        // A filter that is its own mirror adds nothing.
                        if mirror.source != forward.source || mirror.sourceMask != forward.sourceMask
                            || mirror.destination != forward.destination
                            || mirror.destinationMask != forward.destinationMask
                            || mirror.sourcePort != forward.sourcePort
                        {
                            mirror.isMirror = true
                            compiled.append(mirror)
                        }
                    }
                }
            }
        }
        return FilterTable(
            generation: policy.generation,
            policy: policy,
            filters: compiled,
            unresolved: unresolved,
            previous: previous
        )
    }

    /// The (address, mask) pairs of one side, into `result` (replaced).
    static func resolve(
        _ address: FilterAddress,
        _ me: [(address: UInt32, mask: UInt32)],
        _ servers: [SpecialServer: [(address: UInt32, mask: UInt32)]],
        into result: inout [(address: UInt32, mask: UInt32)]
    ) {
        switch address {
        case .me: result = me
        case .any: one((0, 0), &result)
        case .host(let ip): one((ip.value, UInt32.max), &result)
        case .subnet(let ip, let mask): one((ip.value & mask.value, mask.value), &result)
        case .dnsName(_, let ip): one((ip.value, UInt32.max), &result)
        case .server(let kind): result = servers[kind] ?? []
        }
    }

    /// Replaces `result` with `value` without reallocating when it holds one element already.
    @inline(__always)
    private static func one(_ value: (address: UInt32, mask: UInt32), _ result: inout [(address: UInt32, mask: UInt32)])
    {
        if result.count == 1 { result[0] = value } else { result = [value] }
    }
}
