public import DecisionCore
public import PolicyModel
import Synchronization

/// The kernel's answer, read from the packet mark, plus keying's view of the peers.
///
/// The driver's hook chains set ``DriverMarks/protected`` before the queue on packets the datapath
/// protects: `-m policy --dir in|out --pol ipsec` for kernel XFRM (the packet arrived through an XFRM
/// state, or an XFRM policy will transform it), and `-i`/`-o` of kernel-libipsec's TUN device for the
/// userspace datapath (decrypted packets come in through it, packets routed into it leave encrypted).
/// Soft associations and negotiations in progress come from the ``PeerAssociationsCell`` keying
/// updates; without one (`ike = none`) soft means clear outbound at once, as before keying existed.
public struct KernelSecurityAssociations: SecurityAssociations {
    public var protectedMark: UInt32
    public var peers: PeerAssociationsCell?

    public init(protectedMark: UInt32 = DriverMarks.default.protected, peers: PeerAssociationsCell? = nil) {
        self.protectedMark = protectedMark
        self.peers = peers
    }

    public func isProtected(_ key: PacketKey, direction: TrafficDirection, mark: UInt32) -> Bool {
        mark & protectedMark != 0
    }

    public func hasSoftAssociation(_ key: PacketKey, direction: TrafficDirection) -> Bool {
        guard let peers else { return direction == .outbound }
        return peers.current.softPeers.contains(
            IPv4Address(value: direction == .inbound ? key.source : key.destination)
        )
    }

    public func isNegotiating(_ key: PacketKey, direction: TrafficDirection) -> Bool {
        guard let peers else { return false }
        return peers.current.negotiating.contains(
            IPv4Address(value: direction == .inbound ? key.source : key.destination)
        )
    }
}

/// The driver's copy of keying's ``PeerAssociations``, replaced as a whole when keying publishes a
/// new one and read by the queue readers (only for clear packets under negotiate filters).
public final class PeerAssociationsCell: Sendable {
    private let value = Mutex(PeerAssociations.none)

    public init() {}

    public var current: PeerAssociations { value.withLock { $0 } }

    public func replace(_ peers: PeerAssociations) { value.withLock { $0 = peers } }
}
