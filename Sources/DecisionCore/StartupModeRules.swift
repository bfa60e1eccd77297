public import PolicyModel

/// What the startup modes let through (windows-ipsec.md §4.4): the one definition that the driver's
/// kernel hooks are written from and that ``DecisionContext`` decides with for `explain`.
///
/// - permit: everything.
/// - stateful: everything outbound and the replies to it (conntrack), DHCP offers and acks to this
///   computer's client port, the boot exemptions; other inbound traffic is dropped.
/// - block: DHCP both ways and the boot exemptions; everything else is dropped.
public enum StartupModeRules {
    /// The DHCP client's and server's UDP ports.
    public static let dhcpClientPort: UInt16 = 68
    public static let dhcpServerPort: UInt16 = 67

    /// Why a packet is accepted or dropped in startup mode `mode`. `established`: the packet belongs
    /// to a connection this computer opened (what the stateful mode's conntrack rule sees).
    public static func decide(
        _ key: PacketKey,
        direction: TrafficDirection,
        mode: StartupMode,
        exemptions: [BootExemption],
        established: Bool
    ) -> DecisionReason {
        switch mode {
        case .permit:
            return .startupPermit
        case .stateful:
            if direction == .outbound { return .startupOutbound }
            if established { return .startupReply }
        case .block:
            break
        }
        if isDHCP(key, direction: direction, mode: mode) { return .startupDHCP }
        if exemptions.contains(where: { $0.admits(key, direction: direction) }) { return .bootExemption }
        return .startupBlocked
    }

    /// DHCP as the startup rules admit it: client to server outbound (block mode only: stateful
    /// passes all outbound), server to client inbound.
    static func isDHCP(_ key: PacketKey, direction: TrafficDirection, mode: StartupMode) -> Bool {
        guard key.ipProtocol == IPProtocol.udp else { return false }
        switch direction {
        case .inbound: return key.sourcePort == dhcpServerPort && key.destinationPort == dhcpClientPort
        case .outbound: return key.sourcePort == dhcpClientPort && key.destinationPort == dhcpServerPort
        }
    }
}

extension BootExemption {
    /// The source and destination ports this entry admits for packets travelling in `direction`: as
    /// written for its own direction, swapped for the other (its replies). 0 is any port.
    public func ports(for direction: TrafficDirection) -> (source: UInt16, destination: UInt16) {
        direction == self.direction ? (sourcePort, destinationPort) : (destinationPort, sourcePort)
    }

    /// Whether the entry lets `key`, travelling in `direction`, through in a startup mode. Ports count
    /// only for TCP and UDP.
    public func admits(_ key: PacketKey, direction: TrafficDirection) -> Bool {
        guard ipProtocol == IPProtocol.any || ipProtocol == key.ipProtocol else { return false }
        guard ipProtocol == IPProtocol.tcp || ipProtocol == IPProtocol.udp else { return true }
        let (source, destination) = ports(for: direction)
        return (source == 0 || source == key.sourcePort) && (destination == 0 || destination == key.destinationPort)
    }
}
