public import PolicyModel

/// Generated policies for benchmarks and scale tests: `count` filters in 10.0.0.0/8 and
/// 172.16.0.0/12 spread over a fixed set of shapes (host to host with a port, subnet to `me`
/// with a protocol, host to any, ...), like a large real policy. Deterministic for a seed.
public enum SyntheticPolicy {
    public static func make(count: Int, seed: UInt64 = 1, generation: UInt64 = 1) -> EffectivePolicy {
        var random = SplitMix(seed: seed)
        var filters: [EffectiveFilter] = []
        filters.reserveCapacity(count)
        let actions = random.filterActions([
            .init(name: "Block", action: .block),
            .init(name: "Permit", action: .permit),
            .init(name: "Request Security", action: .negotiate, inboundPassThrough: true, allowFallbackToClear: true),
        ])
        for index in 0..<count {
            let host = IPv4Address(value: 0x0A00_0000 | UInt32(truncatingIfNeeded: random.next()) & 0x00FF_FFFF)
            let peer = IPv4Address(value: 0xAC10_0000 | UInt32(truncatingIfNeeded: random.next()) & 0x000F_FFFF)
            let port = UInt16(truncatingIfNeeded: random.next() % 60000 + 1)
            let filter: Filter
            let id = IPsecGUID(random.guid())!
            switch index % 6 {
            case 0:
                filter = Filter(
                    id: id,
                    source: .host(host),
                    destination: .host(peer),
                    ipProtocol: IPProtocol.tcp,
                    destinationPort: port
                )
            case 1:
                filter = Filter(
                    id: id,
                    source: .subnet(host, mask: .mask(prefixLength: 24)),
                    destination: .me,
                    ipProtocol: IPProtocol.udp
                )
            case 2:
                filter = Filter(id: id, source: .host(host), destination: .any)
            case 3:
                filter = Filter(
                    id: id,
                    source: .subnet(peer, mask: .mask(prefixLength: 16)),
                    destination: .subnet(host, mask: .mask(prefixLength: 24)),
                    ipProtocol: IPProtocol.tcp,
                    sourcePort: port
                )
            case 4:
                filter = Filter(id: id, mirrored: false, source: .host(peer), destination: .host(host), ipProtocol: 1)
            default:
                filter = Filter(
                    id: id,
                    source: .me,
                    destination: .subnet(peer, mask: .mask(prefixLength: 28)),
                    ipProtocol: IPProtocol.udp,
                    destinationPort: port
                )
            }
            let action = actions[Int(random.next() % 3)]
            filters.append(
                EffectiveFilter(
                    filter: filter,
                    inboundAction: action,
                    provenance: Provenance(
                        kind: .local,
                        source: "synthetic",
                        policyName: "Synthetic",
                        ruleName: "rule \(index / 100)"
                    )
                )
            )
        }
        return EffectivePolicy(generation: generation, filters: filters)
    }
}

/// SplitMix64: a tiny deterministic generator for reproducible policies and random tests.
public struct SplitMix: RandomNumberGenerator {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound`.
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// True once in `oneIn` times on average.
    public mutating func chance(_ oneIn: Int) -> Bool { below(oneIn) == 0 }

    /// One of `values`.
    public mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }

    /// One filter action per template, in the templates' order, each with an id drawn from this
    /// generator: the generated policies (``SyntheticPolicy``, ``DiversePolicy``) draw their three
    /// actions first, so a policy stays the same for its seed.
    mutating func filterActions(_ templates: [FilterActionTemplate]) -> [FilterAction] {
        templates.map { template in
            FilterAction(
                id: IPsecGUID(guid())!,
                name: template.name,
                action: template.action,
                inboundPassThrough: template.inboundPassThrough,
                allowFallbackToClear: template.allowFallbackToClear
            )
        }
    }

    mutating func guid() -> String {
        let a = next()
        let b = next()
        func hex(_ value: UInt64, _ digits: Int) -> String {
            let text = String(value, radix: 16, uppercase: true)
            return String(repeating: "0", count: max(0, digits - text.count)) + text
        }
        return
            "{\(hex(a >> 32, 8))-\(hex(a >> 16 & 0xFFFF, 4))-\(hex(a & 0xFFFF, 4))-\(hex(b >> 48, 4))-\(hex(b & 0xFFFF_FFFF_FFFF, 12))}"
    }
}

/// A filter action of a generated policy, before its id is drawn (``SplitMix/filterActions(_:)``).
struct FilterActionTemplate {
    var name: String
    var action: FilterActionKind
    var inboundPassThrough = false
    var allowFallbackToClear = false
}
