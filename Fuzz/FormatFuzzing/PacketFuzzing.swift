import DecisionCore
import PolicyModel

/// The driver's packet entry (`DecisionContext.decide(packet:…)`: the IPv4 parser, then the decision)
/// on raw bytes as NFQUEUE hands them over. The first byte picks the hook; the rest is the packet.
/// Oracles: a parsed header re-encoded canonically parses to the same fields; the table's indexed
/// lookup and its linear reference agree in both directions.
enum PacketFuzzing {
    static let table: FilterTable = {
        func guid(_ n: Int) -> IPsecGUID {
            let hex = String(n, radix: 16)
            return IPsecGUID("{00000000-0000-0000-0000-\(String(repeating: "0", count: 12 - hex.count) + hex)}")!
        }
        func filter(
            _ n: Int,
            _ source: FilterAddress,
            _ destination: FilterAddress,
            proto: UInt8,
            port: UInt16
        )
            -> Filter
        {
            Filter(
                id: guid(n),
                mirrored: n % 2 == 0,
                source: source,
                destination: destination,
                ipProtocol: proto,
                destinationPort: port
            )
        }
        let block = FilterAction(id: guid(100), name: "block", action: .block)
        let permit = FilterAction(id: guid(101), name: "permit", action: .permit)
        let provenance = Provenance(kind: .local, source: "local", policyName: "fuzz", ruleName: "fuzz")
        let filters: [(Filter, FilterAction)] = [
            (filter(1, .any, .any, proto: 0, port: 0), permit),
            (
                filter(
                    2,
                    .me,
                    .subnet(IPv4Address(198, 18, 0, 0), mask: IPv4Address(255, 254, 0, 0)),
                    proto: 6,
                    port: 23
                ), block
            ),
            (filter(3, .host(IPv4Address(198, 18, 0, 1)), .me, proto: 17, port: 53), permit),
            (filter(4, .any, .host(IPv4Address(198, 18, 7, 1)), proto: 1, port: 0), block),
            (
                filter(5, .subnet(IPv4Address(10, 0, 0, 0), mask: IPv4Address(255, 0, 0, 0)), .any, proto: 0, port: 0),
                block
            ),
        ]
        let policy = EffectivePolicy(
            generation: 1,
            filters: filters.map {
                EffectiveFilter(filter: $0, inboundAction: $1, outboundAction: nil, provenance: provenance)
            }
        )
        return FilterCompiler.compile(policy, host: HostInfo(addresses: [IPv4Address(198, 18, 0, 2)]))
    }()

    static let context = DecisionContext(
        table: table,
        settings: DecisionSettings(mode: .operational(.secure)),
        host: HostInfo(addresses: [IPv4Address(198, 18, 0, 2)])
    )

    static func run(_ bytes: [UInt8]) -> Bool {
        guard let hook = bytes.first else { return false }
        let packet = Array(bytes.dropFirst())
        let decided = packet.withUnsafeBytes {
            context.decide(packet: $0, hook: hook % 5, mark: 0, inInterface: 1, outInterface: 1)
        }
        guard case .ipv4(let key, _, let fragment) = packet.withUnsafeBytes({ parseIPv4($0) }) else { return false }
        check(decided.key == key && decided.fragment == fragment, "the decision saw other fields than the parser")
        let again = canonical(key, fragment: fragment).withUnsafeBytes { parseIPv4($0) }
        guard case .ipv4(let reparsed, _, let refragment) = again, reparsed == key, refragment == fragment else {
            preconditionFailure("packet: \(key) re-encoded parses as \(again)")
        }
        for direction in [TrafficDirection.inbound, .outbound] {
            check(table.lookup(key, direction) == table.linearLookup(key, direction), "lookup \(key) \(direction)")
        }
        return true
    }

    /// A minimal IPv4 header (no options) with `key`'s fields, and its ports for TCP and UDP.
    private static func canonical(_ key: PacketKey, fragment: Bool) -> [UInt8] {
        let ports = !fragment && (key.ipProtocol == IPProtocol.tcp || key.ipProtocol == IPProtocol.udp)
        let length = 20 + (ports ? 4 : 0)
        var header: [UInt8] = [
            0x45, 0, 0, UInt8(length), 0, 0, fragment ? 0x00 : 0x40, fragment ? 0x10 : 0, 64, key.ipProtocol, 0, 0,
        ]
        for word in [key.source, key.destination] {
            header += [UInt8(word >> 24), UInt8(word >> 16 & 0xFF), UInt8(word >> 8 & 0xFF), UInt8(word & 0xFF)]
        }
        if ports {
            for port in [key.sourcePort, key.destinationPort] { header += [UInt8(port >> 8), UInt8(port & 0xFF)] }
        }
        return header
    }

    private static func check(_ condition: Bool, _ what: String) {
        if !condition { preconditionFailure("packet: \(what)") }
    }
}
