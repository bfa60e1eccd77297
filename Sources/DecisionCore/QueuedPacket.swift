public import PolicyModel

/// The driver's entry point into the decision: one packet as NFQUEUE hands it over, raw bytes and
/// metadata. The queue readers call ``DecisionContext/decide(packet:hook:mark:inInterface:outInterface:)``
/// for every packet; the explain agreement test calls it the same way.
public struct QueuedPacketDecision: Hashable, Sendable {
    /// The packet's fields (zero when the header did not parse).
    public var key: PacketKey
    public var direction: TrafficDirection
    public var decision: Decision
    /// Bytes the packet counts for: the IPv4 total length when known, else the copied length.
    public var length: Int
    /// A non-first fragment (decided with ports 0).
    public var fragment: Bool
}

extension TrafficDirection {
    /// The direction of a packet queued from netfilter hook `hook` (`NF_INET_*`: 0 pre-routing,
    /// 1 local in, 2 forward, 3 local out, 4 post-routing): outbound from local out and post-routing.
    @inline(__always)
    public init(netfilterHook hook: UInt8) {
        self = hook == 3 || hook == 4 ? .outbound : .inbound
    }
}

extension DecisionContext {
    /// Parses and decides one queued packet: the direction from the hook, the connection type from
    /// the in-interface (inbound) or out-interface (outbound) index, then
    /// ``decide(_:direction:mark:interface:established:)``.
    @inline(__always)
    public func decide(
        packet bytes: UnsafeRawBufferPointer,
        hook: UInt8,
        mark: UInt32,
        inInterface: UInt32,
        outInterface: UInt32
    ) -> QueuedPacketDecision {
        let direction = TrafficDirection(netfilterHook: hook)
        switch parseIPv4(bytes) {
        case .ipv4(let key, let totalLength, let fragment):
            let interface = interfaces.kind(direction == .inbound ? inInterface : outInterface)
            return QueuedPacketDecision(
                key: key,
                direction: direction,
                decision: decide(key, direction: direction, mark: mark, interface: interface),
                length: totalLength != 0 ? totalLength : bytes.count,
                fragment: fragment
            )
        case .notIPv4:
            return QueuedPacketDecision(
                key: PacketKey(source: 0, destination: 0, ipProtocol: 0),
                direction: direction,
                decision: Decision(reason: .notIPv4),
                length: bytes.count,
                fragment: false
            )
        case .malformed:
            return QueuedPacketDecision(
                key: PacketKey(source: 0, destination: 0, ipProtocol: 0),
                direction: direction,
                decision: Decision(reason: .malformed),
                length: bytes.count,
                fragment: false
            )
        }
    }
}
