import DecisionCore
import IPsecTestKit
import PolicyModel
import Testing

@Suite struct PacketTests {
    func header(
        proto: UInt8 = 6,
        ihl: UInt8 = 5,
        total: Int = 40,
        fragment: UInt16 = 0,
        ports: (UInt16, UInt16)? = (1234, 22)
    ) -> [UInt8] {
        var bytes: [UInt8] = [0x40 | ihl, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0]
        bytes += [UInt8(fragment >> 8), UInt8(fragment & 0xFF), 64, proto, 0, 0]
        bytes += [198, 18, 0, 1, 198, 18, 0, 2]
        bytes += [UInt8](repeating: 0, count: max(0, Int(ihl) * 4 - 20))
        if let ports {
            bytes += [UInt8(ports.0 >> 8), UInt8(ports.0 & 0xFF), UInt8(ports.1 >> 8), UInt8(ports.1 & 0xFF)]
        }
        return bytes
    }

    func parse(_ bytes: [UInt8]) -> ParsedPacket { bytes.withUnsafeBytes { parseIPv4($0) } }

    @Test func readsAddressesAndPorts() {
        guard case .ipv4(let key, let total, let fragment) = parse(header()) else {
            Issue.record("not parsed")
            return
        }
        #expect(key == DecisionFixture.tcp(IPv4Address(198, 18, 0, 1), 1234, IPv4Address(198, 18, 0, 2), 22))
        #expect(total == 40 && !fragment)
    }

    @Test func optionsShiftThePorts() {
        guard case .ipv4(let key, _, _) = parse(header(ihl: 7, total: 60)) else {
            Issue.record("not parsed")
            return
        }
        #expect(key.destinationPort == 22)
    }

    @Test func icmpHasNoPorts() {
        guard case .ipv4(let key, _, _) = parse(header(proto: 1, ports: nil)) else {
            Issue.record("not parsed")
            return
        }
        #expect(key.sourcePort == 0 && key.destinationPort == 0)
    }

    @Test func nonFirstFragmentsHaveNoPorts() {
        guard case .ipv4(let key, _, let fragment) = parse(header(fragment: 0x0010, ports: nil)) else {
            Issue.record("not parsed")
            return
        }
        #expect(fragment && key.destinationPort == 0)
    }

    @Test func malformedAndTruncatedInputNeverTraps() {
        #expect(parse([]) == .malformed)
        #expect(parse([0x45]) == .malformed)
        #expect(parse(Array(header().prefix(19))) == .malformed)
        #expect(parse(header(ihl: 4)) == .malformed)
        #expect(parse(header(total: 10)) == .malformed)
        // A TCP header cut before the ports.
        #expect(parse(header(ports: nil)) == .malformed)
        #expect(parse([0x60] + [UInt8](repeating: 0, count: 39)) == .notIPv4)
        // Random garbage of every length.
        var state: UInt64 = 7
        for length in 0..<80 {
            var bytes: [UInt8] = []
            for _ in 0..<length {
                state = state &* 6_364_136_223_846_793_005 &+ 1
                bytes.append(UInt8(truncatingIfNeeded: state >> 33))
            }
            _ = parse(bytes)
        }
    }
}
