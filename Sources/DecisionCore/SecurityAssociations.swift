public import PolicyModel

/// Whether a packet is protected by IPsec: the check behind the negotiate action.
///
/// Called by ``DecisionContext/decide(_:direction:mark:)`` (on a queue reader thread, for every packet
/// that matches a negotiate filter, or for `explain`); must be fast and must not block. The driver's
/// implementation reads the packet mark its kernel hooks set; `explain` states an assumption.
public protocol SecurityAssociations: Sendable {
    /// Whether `key`, travelling in `direction` with packet mark `mark`, is (inbound) or will be
    /// (outbound) protected by a kernel IPsec SA.
    func isProtected(_ key: PacketKey, direction: TrafficDirection, mark: UInt32) -> Bool

    /// Whether a soft association lets this clear packet of a soft (`allowFallbackToClear`) filter
    /// pass. The default (no IKE, `ike = none`): outbound always, inbound never.
    func hasSoftAssociation(_ key: PacketKey, direction: TrafficDirection) -> Bool

    /// Whether keying is negotiating with the packet's peer right now. The default: never.
    func isNegotiating(_ key: PacketKey, direction: TrafficDirection) -> Bool
}

extension SecurityAssociations {
    public func hasSoftAssociation(_ key: PacketKey, direction: TrafficDirection) -> Bool {
        direction == .outbound
    }

    public func isNegotiating(_ key: PacketKey, direction: TrafficDirection) -> Bool { false }
}

/// A fixed answer: every packet is protected, or none is. The default of a ``DecisionContext`` (clear
/// traffic), and what `explain` assumes for a packet it cannot observe.
public struct AssumedSecurityAssociations: SecurityAssociations {
    public var protected: Bool

    public init(protected: Bool) { self.protected = protected }

    public func isProtected(_ key: PacketKey, direction: TrafficDirection, mark: UInt32) -> Bool { protected }
}
