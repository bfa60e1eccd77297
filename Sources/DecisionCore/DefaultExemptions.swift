public import PolicyModel

/// `ipsecexempt`: which traffic bypasses the filters (windows-ipsec.md §4.3). IKE always does.
public enum DefaultExemptions {
    /// The exemption that applies to `key`, or `nil`.
    public static func exemption(
        _ key: PacketKey,
        direction: TrafficDirection,
        level: Int,
        broadcastAddresses: Set<UInt32>
    ) -> DecisionReason? {
        let isUDP = key.ipProtocol == IPProtocol.udp
        if isUDP
            && (key.sourcePort == 500 || key.destinationPort == 500 || key.sourcePort == 4500
                || key.destinationPort == 4500)
        {
            return .exemptIKE
        }
        let castExempt = level == 0 || level == 1 || (level == 3 && direction == .inbound)
        if castExempt {
            if key.destination >> 28 == 0xE { return .exemptMulticast }
            if key.destination == UInt32.max || broadcastAddresses.contains(key.destination) {
                return .exemptBroadcast
            }
        }
        if level == 0 || level == 2 {
            if key.ipProtocol == IPProtocol.rsvp { return .exemptRSVP }
            if (isUDP || key.ipProtocol == IPProtocol.tcp) && (key.sourcePort == 88 || key.destinationPort == 88) {
                return .exemptKerberos
            }
        }
        return nil
    }
}
