public import PolicyModel

/// Generated policies with the shape diversity of a policy collected over years, for the classifier
/// benchmark and the classifier's reference tests: source and destination prefix lengths /8–/32
/// chosen independently (plus `any` and `me`), specific and any protocol, single ports and any,
/// mirrored and not, and block, permit and negotiate actions. Deterministic for a seed.
///
/// Addresses come from an address plan of 48 sites (a /16 each: 32 in 10.0.0.0/8, 8 in
/// 172.16.0.0/12, 192.168.0.0/16 and 7 public ones), so that prefixes nest as they do in real networks:
/// a prefix shorter than /16 covers its site's neighbours, longer ones are subnets and hosts of one
/// site. Nothing falls in 198.18.0.0/15, the range benchmarks and tests send from.
///
/// The same parameters hold at every size (the "same diversity"): what grows with the filter count
/// is how many of the possible shapes appear and how densely prefixes nest.
public enum DiversePolicy {
    /// The sites of the address plan: the top 16 bits of each.
    public static let sites: [UInt32] = {
        var random = SplitMix(seed: 0x5173)
        var result: [UInt32] = []
        while result.count < 32 {
            let site = 0x0A00 | UInt32(random.below(256))
            if !result.contains(site) { result.append(site) }
        }
        while result.count < 40 {
            let site = 0xAC10 | UInt32(random.below(16))
            if !result.contains(site) { result.append(site) }
        }
        // 192.168.0.0/16, and seven public ones (20.2, 52.20, 100.64, 141.42, 151.101, 185.199, 203.0).
        return result + [0xC0A8, 0x1402, 0x3414, 0x6440, 0x8D2A, 0x9765, 0xB9C7, 0xCB00]
    }()

    public static func make(count: Int, seed: UInt64 = 1, generation: UInt64 = 1) -> EffectivePolicy {
        var random = SplitMix(seed: seed &* 0x9E37_79B9 &+ 11)
        let actions = random.filterActions([
            .init(name: "Permit", action: .permit),
            .init(name: "Block", action: .block),
            .init(name: "Require Security", action: .negotiate, inboundPassThrough: true),
        ])
        var filters: [EffectiveFilter] = []
        filters.reserveCapacity(count)
        for index in 0..<count {
            let ipProtocol = protocolNumber(&random)
            let portsApply =
                ipProtocol == IPProtocol.any || ipProtocol == IPProtocol.tcp || ipProtocol == IPProtocol.udp
            let filter = Filter(
                id: IPsecGUID(random.guid())!,
                mirrored: random.below(4) != 0,
                source: address(&random),
                destination: address(&random),
                ipProtocol: ipProtocol,
                sourcePort: portsApply && random.below(10) == 0 ? port(&random) : 0,
                destinationPort: portsApply && random.below(20) < 11 ? port(&random) : 0
            )
            let roll = random.below(10)
            let action = actions[roll < 5 ? 0 : roll < 8 ? 1 : 2]
            filters.append(
                EffectiveFilter(
                    filter: filter,
                    inboundAction: action,
                    provenance: Provenance(
                        kind: .local,
                        source: "diverse",
                        policyName: "Diverse",
                        ruleName: "rule \(index / 50)"
                    )
                )
            )
        }
        return EffectivePolicy(generation: generation, filters: filters)
    }

    /// A random address inside the address plan (for packets that land among the filters without
    /// aiming at one).
    public static func siteAddress(_ random: inout SplitMix) -> UInt32 {
        sites[random.below(sites.count)] << 16 | UInt32(truncatingIfNeeded: random.next()) & 0xFFFF
    }

    /// `any` 12 %, `me` 8 %, /32 25 %, /24 12 %, /16 5 %, every other length from /8 to /31 1.7 %.
    static func address(_ random: inout SplitMix) -> FilterAddress {
        let roll = random.below(1000)
        let length: Int
        switch roll {
        case ..<120: return .any
        case ..<200: return .me
        case ..<450: length = 32
        case ..<570: length = 24
        case ..<620: length = 16
        default:
            let others = (8...31).filter { $0 != 16 && $0 != 24 }
            length = others[(roll - 620) % others.count]
        }
        let value = siteAddress(&random)
        if length == 32 { return .host(IPv4Address(value: value)) }
        let mask = IPv4Address.mask(prefixLength: length)
        return .subnet(IPv4Address(value: value & mask.value), mask: mask)
    }

    /// any 25 %, TCP 40 %, UDP 25 %, ICMP 7 %, GRE 3 %.
    static func protocolNumber(_ random: inout SplitMix) -> UInt8 {
        switch random.below(100) {
        case ..<25: IPProtocol.any
        case ..<65: IPProtocol.tcp
        case ..<90: IPProtocol.udp
        case ..<97: IPProtocol.icmp
        default: 47
        }
    }

    /// Well-known service ports half of the time, any other port otherwise.
    static func port(_ random: inout SplitMix) -> UInt16 {
        let wellKnown: [UInt16] = [22, 25, 53, 80, 88, 123, 135, 389, 443, 445, 636, 1433, 3268, 3389, 5985, 8080]
        return random.chance(2) ? random.pick(wellKnown) : UInt16(1024 + random.below(60_000))
    }
}
