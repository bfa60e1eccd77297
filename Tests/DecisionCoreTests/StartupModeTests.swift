import DecisionCore
import IPsecTestKit
import PolicyModel
import Testing

/// What the startup modes let through (the kernel hooks are written from the same rules).
@Suite struct StartupModeTests {
    typealias Fixture = DecisionFixture
    let rdp = BootExemption(ipProtocol: IPProtocol.tcp, sourcePort: 0, destinationPort: 3389, direction: .inbound)
    let ping = BootExemption(ipProtocol: IPProtocol.icmp, sourcePort: 0, destinationPort: 0, direction: .outbound)
    let dhcpOffer = PacketKey(
        source: IPv4Address(198, 18, 0, 1),
        destination: IPv4Address(255, 255, 255, 255),
        ipProtocol: IPProtocol.udp,
        sourcePort: 67,
        destinationPort: 68
    )

    func decide(
        _ mode: StartupMode,
        _ key: PacketKey,
        _ direction: TrafficDirection,
        established: Bool = false
    ) -> DecisionReason {
        let block = Fixture.table([Fixture.effective(Fixture.filter(1, .any, .any), Fixture.action(.block))])
        let context = DecisionContext(
            table: block,
            settings: DecisionSettings(mode: .startup(mode), exemptionLevel: 0, bootExemptions: [rdp, ping])
        )
        return context.decide(key, direction: direction, mark: 0, established: established).reason
    }

    @Test func permitLetsEverythingThroughWhateverThePolicy() {
        #expect(decide(.permit, Fixture.tcp(Fixture.peer, 1, Fixture.me, 23), .inbound) == .startupPermit)
    }

    @Test func statefulPassesOutboundAndRepliesDropsOtherInbound() {
        let telnet = Fixture.tcp(Fixture.peer, 40000, Fixture.me, 23)
        #expect(decide(.stateful, telnet.reversed, .outbound) == .startupOutbound)
        #expect(decide(.stateful, telnet, .inbound, established: true) == .startupReply)
        #expect(decide(.stateful, telnet, .inbound) == .startupBlocked)
        #expect(decide(.stateful, dhcpOffer, .inbound) == .startupDHCP)
        #expect(decide(.stateful, Fixture.tcp(Fixture.peer, 40000, Fixture.me, 3389), .inbound) == .bootExemption)
        // No IKE or ipsecexempt exemption in a startup mode.
        let ike = PacketKey(
            source: Fixture.peer,
            destination: Fixture.me,
            ipProtocol: 17,
            sourcePort: 500,
            destinationPort: 500
        )
        #expect(decide(.stateful, ike, .inbound) == .startupBlocked)
    }

    @Test func blockPassesDHCPAndBootExemptionsBothWays() {
        let request = PacketKey(
            source: Fixture.me,
            destination: IPv4Address(255, 255, 255, 255),
            ipProtocol: IPProtocol.udp,
            sourcePort: 68,
            destinationPort: 67
        )
        #expect(decide(.block, request, .outbound) == .startupDHCP)
        #expect(decide(.block, dhcpOffer, .inbound) == .startupDHCP)
        #expect(decide(.block, dhcpOffer, .outbound) == .startupBlocked)
        let rdpIn = Fixture.tcp(Fixture.peer, 40000, Fixture.me, 3389)
        #expect(decide(.block, rdpIn, .inbound) == .bootExemption)
        // The exemption's replies: outbound with the ports swapped.
        #expect(decide(.block, rdpIn.reversed, .outbound) == .bootExemption)
        #expect(decide(.block, Fixture.tcp(Fixture.me, 3389, Fixture.peer, 40000), .inbound) == .startupBlocked)
        #expect(decide(.block, Fixture.tcp(Fixture.me, 40000, Fixture.peer, 22), .outbound) == .startupBlocked)
        let echo = PacketKey(source: Fixture.me, destination: Fixture.peer, ipProtocol: IPProtocol.icmp)
        #expect(decide(.block, echo, .outbound) == .bootExemption)
        #expect(decide(.block, echo.reversed, .inbound) == .bootExemption)
        #expect(!DecisionReason.startupBlocked.accepts && DecisionReason.bootExemption.accepts)
    }

    @Test func exemptionPortsAreSwappedForTheOtherDirection() {
        #expect(rdp.ports(for: .inbound) == (0, 3389))
        #expect(rdp.ports(for: .outbound) == (3389, 0))
        let any = BootExemption(ipProtocol: IPProtocol.any, sourcePort: 0, destinationPort: 53, direction: .outbound)
        // Ports count only for TCP and UDP: "any protocol" admits every packet.
        #expect(any.admits(PacketKey(source: 1, destination: 2, ipProtocol: 47), direction: .inbound))
    }
}
