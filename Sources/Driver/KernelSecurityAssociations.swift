public import DecisionCore
public import PolicyModel

/// The kernel's answer, read from the packet mark: the driver's hook chains run
/// `-m policy --dir in --pol ipsec` (inbound: the packet arrived through an XFRM state) and
/// `-m policy --dir out --pol ipsec` (outbound: an XFRM policy will transform it) before the queue,
/// and those rules set ``DriverMarks/protected``.
public struct KernelSecurityAssociations: SecurityAssociations {
    public var protectedMark: UInt32

    public init(protectedMark: UInt32 = DriverMarks.default.protected) {
        self.protectedMark = protectedMark
    }

    public func isProtected(_ key: PacketKey, direction: TrafficDirection, mark: UInt32) -> Bool {
        mark & protectedMark != 0
    }
}
