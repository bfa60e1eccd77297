import DecisionCore
import Driver
import IPsecTestKit
import PolicyModel
import Testing

/// The libipsec datapath: packets in on or out via the TUN device count as protected.
@Suite struct LibipsecHookTests {
    @Test func tunTrafficIsMarkedProtectedBeforeTheQueue() {
        let config = HookConfiguration(queueBase: 4200, queueCount: 1, protectedInterface: "ipsec0")
        let text = KernelHookScript.script(
            for: .secure(epoch: 0),
            family: .ipv4,
            configuration: config,
            existing: ExistingHooks()
        )
        let lines = text.split(separator: "\n").map(String.init)
        let inMark = lines.firstIndex(of: "-A IPSECSVC-IN -i ipsec0 -j MARK --set-xmark 0x40000000/0x40000000")
        let outMark = lines.firstIndex(of: "-A IPSECSVC-OUT -o ipsec0 -j MARK --set-xmark 0x40000000/0x40000000")
        let inQueue = lines.firstIndex(of: "-A IPSECSVC-IN -j NFQUEUE --queue-num 4200")
        let outQueue = lines.firstIndex(of: "-A IPSECSVC-OUT -j NFQUEUE --queue-num 4200")
        #expect(inMark != nil && outMark != nil && inQueue != nil && outQueue != nil, "\(text)")
        if let inMark, let inQueue, let outMark, let outQueue {
            #expect(inMark < inQueue)
            #expect(outMark < outQueue)
        }
        // The kernel datapath's XFRM check stays.
        #expect(text.contains("-m policy --dir in --pol ipsec"))
    }

    @Test func withoutADeviceNothingChanges() {
        let text = KernelHookScript.script(
            for: .secure(epoch: 0),
            family: .ipv4,
            configuration: HookConfiguration(queueBase: 4200, queueCount: 1),
            existing: ExistingHooks()
        )
        #expect(!text.contains("ipsec0"))
    }

    @Test func peerAssociationsAnswerSoftAndNegotiating() {
        let cell = PeerAssociationsCell()
        let sa = KernelSecurityAssociations(peers: cell)
        let key = DecisionFixture.tcp(DecisionFixture.me, 40000, DecisionFixture.peer, 80)
        #expect(!sa.hasSoftAssociation(key, direction: .outbound))
        cell.replace(PeerAssociations(softPeers: [DecisionFixture.peer]))
        #expect(sa.hasSoftAssociation(key, direction: .outbound))
        #expect(sa.hasSoftAssociation(key.reversed, direction: .inbound))
        #expect(!sa.isNegotiating(key, direction: .outbound))
        cell.replace(PeerAssociations(negotiating: [DecisionFixture.peer]))
        #expect(sa.isNegotiating(key, direction: .outbound))
        #expect(!sa.hasSoftAssociation(key, direction: .outbound))
        // Without keying: soft means clear outbound at once.
        let legacy = KernelSecurityAssociations()
        #expect(legacy.hasSoftAssociation(key, direction: .outbound))
        #expect(!legacy.hasSoftAssociation(key.reversed, direction: .inbound))
    }
}
