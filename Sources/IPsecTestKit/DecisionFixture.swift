public import DecisionCore
public import PolicyModel

/// Shared builders for the decision core's and the driver's unit tests: a host with two addresses, filters,
/// actions and tables.
public enum DecisionFixture {
    public static let me = IPv4Address(198, 18, 0, 2)
    public static let peer = IPv4Address(198, 18, 0, 1)
    public static let host = HostInfo(
        addresses: [me, IPv4Address(198, 18, 7, 2)],
        broadcastAddresses: [IPv4Address(198, 18, 0, 255)],
        dnsServers: [IPv4Address(198, 18, 9, 53)],
        defaultGateways: [IPv4Address(198, 18, 0, 254)]
    )

    public static func guid(_ n: Int) -> IPsecGUID {
        let hex = String(n, radix: 16)
        let padded = String(repeating: "0", count: 12 - hex.count) + hex
        return IPsecGUID("{00000000-0000-0000-0000-\(padded)}")!
    }

    public static func action(_ kind: FilterActionKind, inpass: Bool = false, soft: Bool = false) -> FilterAction {
        FilterAction(
            id: guid(9000 + ActionPrecedence.rank(kind)),
            name: kind.rawValue,
            action: kind,
            inboundPassThrough: inpass,
            allowFallbackToClear: soft
        )
    }

    public static func effective(
        _ filter: Filter,
        _ action: FilterAction,
        outbound: FilterAction? = nil
    ) -> EffectiveFilter {
        EffectiveFilter(
            filter: filter,
            inboundAction: action,
            outboundAction: outbound,
            provenance: Provenance(kind: .local, source: "local", policyName: "Test", ruleName: "rule")
        )
    }

    public static func filter(
        _ n: Int,
        _ source: FilterAddress,
        _ destination: FilterAddress,
        proto: UInt8 = 0,
        sport: UInt16 = 0,
        dport: UInt16 = 0,
        mirrored: Bool = true
    ) -> Filter {
        Filter(
            id: guid(n),
            mirrored: mirrored,
            source: source,
            destination: destination,
            ipProtocol: proto,
            sourcePort: sport,
            destinationPort: dport
        )
    }

    public static func table(_ filters: [EffectiveFilter], host: HostInfo = host) -> FilterTable {
        FilterCompiler.compile(EffectivePolicy(generation: 7, filters: filters), host: host)
    }

    public static func tcp(
        _ source: IPv4Address,
        _ sport: UInt16,
        _ destination: IPv4Address,
        _ dport: UInt16
    ) -> PacketKey {
        PacketKey(
            source: source,
            destination: destination,
            ipProtocol: IPProtocol.tcp,
            sourcePort: sport,
            destinationPort: dport
        )
    }

    /// A packet that `filter` selects: its masked fields kept, the rest (and a protocol and ports
    /// where the filter has none) drawn from `next`.
    public static func packet(inside filter: CompiledFilter, _ next: () -> UInt32) -> PacketKey {
        PacketKey(
            source: filter.source | next() & ~filter.sourceMask,
            destination: filter.destination | next() & ~filter.destinationMask,
            ipProtocol: filter.ipProtocol == 0 ? [1, 6, 17][Int(next() % 3)] : filter.ipProtocol,
            sourcePort: filter.sourcePort != 0 ? filter.sourcePort : UInt16(truncatingIfNeeded: next()),
            destinationPort: filter.destinationPort != 0 ? filter.destinationPort : UInt16(truncatingIfNeeded: next())
        )
    }
}
