import DecisionCore
import IPsecTestKit
import PolicyModel

/// The driver's packet path on hostile bytes, with the filter table drawn from the input too:
/// `parseIPv4` and `DecisionContext.decide(packet:…)` on an exactly sized copy of the packet (so that
/// AddressSanitizer, when built in, sees any read past its end).
///
/// Input: byte 0 picks the hook, the interface (LAN or dial-up), the mode and the exemption level;
/// byte 1 the number of filters (0–7); 16 bytes per filter (addresses and prefixes, protocol, ports,
/// action, mirroring, connection type); the rest is the packet.
///
/// Oracles: the parser agrees with ``referenceParse(_:)``, a second reading of RFC 791 written
/// without the parser's shortcuts; the decision agrees with the table's linear reference
/// (`FilterTable.linearLookup`): same deciding filter, a reason that matches its action, the fast-path
/// flag only when the reply is permitted too.
enum IPv4Fuzzing {
    static let host = HostInfo(
        addresses: [DecisionFixture.me, IPv4Address(198, 18, 7, 2)],
        broadcastAddresses: [IPv4Address(198, 18, 0, 255)],
        dnsServers: [IPv4Address(198, 18, 9, 53)],
        defaultGateways: [IPv4Address(198, 18, 0, 254)],
        dhcpServers: [IPv4Address(198, 18, 9, 67)],
        winsServers: [IPv4Address(198, 18, 9, 137)],
        interfaces: [
            HostInterface(name: "lan0", index: 1, kind: .lan),
            HostInterface(name: "ppp0", index: 2, kind: .remoteAccess),
        ]
    )

    static func run(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 2 else { return false }
        let control = bytes[0]
        let count = Int(bytes[1] & 7)
        let specsEnd = min(bytes.count, 2 + 16 * count)
        var filters: [EffectiveFilter] = []
        var at = 2
        while at + 16 <= specsEnd {
            filters.append(filter(Array(bytes[at..<at + 16]), number: filters.count + 1))
            at += 16
        }
        let packet = Array(bytes[specsEnd...])
        let table = FilterCompiler.compile(EffectivePolicy(generation: 1, filters: filters), host: host)
        let mode: OperationalMode = [.secure, .secure, .permit, .block][Int(control >> 4 & 3)]
        let context = DecisionContext(
            table: table,
            settings: DecisionSettings(mode: .operational(mode), exemptionLevel: control & 0x40 == 0 ? 3 : 0),
            host: host,
            fastPath: true
        )
        let hook = (control & 7) % 5
        let interface: UInt32 = control & 8 == 0 ? 1 : 2
        // An allocation of exactly the packet's size: a read past its end is a heap overflow.
        let exact = UnsafeMutableRawBufferPointer.allocate(byteCount: packet.count, alignment: 1)
        defer { exact.deallocate() }
        packet.withUnsafeBytes { exact.copyMemory(from: $0) }
        let parsed = parseIPv4(UnsafeRawBufferPointer(exact))
        let decided = context.decide(
            packet: UnsafeRawBufferPointer(exact),
            hook: hook,
            mark: 0,
            inInterface: interface,
            outInterface: interface
        )
        let expected = referenceParse(packet)
        check(parsed == expected, "parsed \(parsed), the reference reads \(expected) from \(packet)")
        switch parsed {
        case .notIPv4: check(decided.decision.reason == .notIPv4, "not IPv4 decided \(decided.decision)")
        case .malformed: check(decided.decision.reason == .malformed, "malformed decided \(decided.decision)")
        case .ipv4(let key, let totalLength, let fragment):
            check(decided.key == key && decided.fragment == fragment, "the decision saw other fields")
            check(decided.length == (totalLength != 0 ? totalLength : packet.count), "length \(decided.length)")
            checkDecision(decided, table: table, mode: mode, on: interface == 1 ? .lan : .remoteAccess)
            return true
        }
        return false
    }

    private static func checkDecision(
        _ decided: QueuedPacketDecision,
        table: FilterTable,
        mode: OperationalMode,
        on kind: InterfaceKind
    ) {
        let decision = decided.decision
        let key = decided.key
        let direction = decided.direction
        switch mode {
        case .permit: return check(decision.reason == .modePermit, "permit mode decided \(decision)")
        case .block: return check(decision.reason == .modeBlock, "block mode decided \(decision)")
        case .secure: break
        }
        let reference = table.linearLookup(key, direction, on: kind)
        switch decision.reason {
        case .exemptIKE, .exemptKerberos, .exemptRSVP, .exemptMulticast, .exemptBroadcast:
            check(decision.filter == nil, "an exemption with a filter: \(decision)")
            return
        case .noMatch:
            check(
                reference == nil,
                "\(key) \(direction): no match, the linear scan finds filter \(String(describing: reference))"
            )
        default:
            check(
                decision.filter == reference && reference != nil,
                "\(key) \(direction): filter \(String(describing: decision.filter)), linear \(String(describing: reference))"
            )
            check(decision.reason.action == table.action(reference!, direction).kind, "\(decision) for its action")
        }
        // The fast path needs the reply permitted as well, by the linear reference.
        let reply: TrafficDirection = direction == .inbound ? .outbound : .inbound
        let replyIndex = table.linearLookup(key.reversed, reply, on: kind)
        let replyPermitted = replyIndex.map { table.action($0, reply).kind == .permit } ?? true
        let permitted = decision.reason == .noMatch || decision.reason == .permitted
        check(decision.fastPath == (permitted && replyPermitted), "\(key) \(direction): fast path \(decision)")
    }

    /// One filter from 16 bytes: source address (4), source prefix (1), destination address (4),
    /// destination prefix (1), protocol (1), action and flags (1), source port (2), destination port (2).
    /// Prefixes 0–32 are subnets (host bits cleared, 32 a host), 33–35 `me`, 36–39 a special server,
    /// 40 and up `any`. Ports only with TCP and UDP: the filters a valid store can hold.
    private static func filter(_ spec: [UInt8], number: Int) -> EffectiveFilter {
        func address(_ at: Int) -> FilterAddress {
            let value =
                UInt32(spec[at]) << 24 | UInt32(spec[at + 1]) << 16 | UInt32(spec[at + 2]) << 8 | UInt32(spec[at + 3])
            switch Int(spec[at + 4]) % 48 {
            case 32: return .host(IPv4Address(value: value))
            case let prefix where prefix < 32:
                let mask: UInt32 = prefix == 0 ? 0 : ~0 << (32 - UInt32(prefix))
                return .subnet(IPv4Address(value: value & mask), mask: IPv4Address(value: mask))
            case 33...35: return .me
            case let server where server < 40: return .server(SpecialServer.allCases[server - 36])
            default: return .any
            }
        }
        let flags = spec[11]
        let proto = spec[10]
        let ports = proto == IPProtocol.tcp || proto == IPProtocol.udp
        let kinds: [FilterActionKind] = [.permit, .block, .negotiate]
        let action = DecisionFixture.action(kinds[Int(flags & 3) % 3], inpass: flags & 4 != 0, soft: flags & 8 != 0)
        let types: [InterfaceType] = [.all, .lan, .dialUp, .all]
        return EffectiveFilter(
            filter: Filter(
                id: DecisionFixture.guid(number),
                mirrored: flags & 0x10 != 0,
                source: address(0),
                destination: address(5),
                ipProtocol: proto,
                sourcePort: ports ? UInt16(spec[12]) << 8 | UInt16(spec[13]) : 0,
                destinationPort: ports ? UInt16(spec[14]) << 8 | UInt16(spec[15]) : 0
            ),
            inboundAction: action,
            interfaceType: types[Int(flags >> 5 & 3)],
            provenance: Provenance(kind: .local, source: "local", policyName: "fuzz", ruleName: "rule \(number)")
        )
    }

    /// RFC 791 read field by field from an array: version nibble (6 is not IPv4, others malformed);
    /// 20 bytes and IHL within the copy; total length 0 (GSO) or covering the header; fragment offset
    /// ≠ 0 means no ports; TCP and UDP need both ports in the copy and in the total length.
    static func referenceParse(_ packet: [UInt8]) -> ParsedPacket {
        guard let first = packet.first else { return .malformed }
        if first >> 4 == 6 { return .notIPv4 }
        let headerBytes = Int(first & 0x0F) * 4
        guard first >> 4 == 4, packet.count >= 20, headerBytes >= 20, headerBytes <= packet.count else {
            return .malformed
        }
        let total = Int(packet[2]) * 256 + Int(packet[3])
        if total != 0 && total < headerBytes { return .malformed }
        func address(_ offset: Int) -> UInt32 { packet[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        let proto = packet[9]
        let offset = (Int(packet[6]) % 32) * 256 + Int(packet[7])
        var key = PacketKey(source: address(12), destination: address(16), ipProtocol: proto)
        guard offset == 0 else { return .ipv4(key, totalLength: total, fragment: true) }
        if proto == 6 || proto == 17 {
            let transportEnd = headerBytes + 4
            guard packet.count >= transportEnd, total == 0 || total >= transportEnd else { return .malformed }
            key.sourcePort = UInt16(packet[headerBytes]) * 256 + UInt16(packet[headerBytes + 1])
            key.destinationPort = UInt16(packet[headerBytes + 2]) * 256 + UInt16(packet[headerBytes + 3])
        }
        return .ipv4(key, totalLength: total, fragment: false)
    }

    private static func check(_ condition: Bool, _ what: @autoclosure () -> String) {
        if !condition { preconditionFailure("ipv4: \(what())") }
    }
}
