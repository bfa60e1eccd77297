public import DecisionCore
public import PolicyModel

/// A stand-in for kernels without ESP/AH (and for tests): traffic to or from the listed peers counts
/// as protected, whatever the kernel says.
public struct FakeSecurityAssociations: SecurityAssociations {
    public var protectedPeers: Set<UInt32>

    public init(protectedPeers: [IPv4Address]) {
        self.protectedPeers = Set(protectedPeers.map(\.value))
    }

    public func isProtected(_ key: PacketKey, direction: TrafficDirection, mark: UInt32) -> Bool {
        let peer = direction == .inbound ? key.source : key.destination
        return protectedPeers.contains(peer)
    }
}
