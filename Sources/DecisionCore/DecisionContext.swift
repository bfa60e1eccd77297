public import PolicyModel

/// Everything one packet decision needs, swapped as a whole so that a packet always sees one
/// consistent table, mode and setting set.
///
/// The driver's queue readers and `explain` decide with this one type; the driver wraps it with
/// what only the kernel path needs (fast-path epoch, marks, counters).
public final class DecisionContext: Sendable {
    public let table: FilterTable
    /// The operational mode in force (`nil` before the service reached one: decide by the table).
    public let mode: OperationalMode?
    public let exemptionLevel: Int
    public let broadcastAddresses: Set<UInt32>
    public let securityAssociations: any SecurityAssociations
    /// Whether permitted flows may be marked for the fast path (the driver turns it off with
    /// epoch 0; `explain` has no fast path).
    public let fastPath: Bool

    public init(
        table: FilterTable,
        mode: OperationalMode? = .secure,
        exemptionLevel: Int = 3,
        broadcastAddresses: Set<UInt32> = [],
        securityAssociations: any SecurityAssociations = AssumedSecurityAssociations(protected: false),
        fastPath: Bool = false
    ) {
        self.table = table
        self.mode = mode
        self.exemptionLevel = exemptionLevel
        self.broadcastAddresses = broadcastAddresses
        self.securityAssociations = securityAssociations
        self.fastPath = fastPath
    }

    /// Decides one parsed packet: mode, then exemptions, then the first filter by weight.
    public func decide(_ key: PacketKey, direction: TrafficDirection, mark: UInt32) -> Decision {
        switch mode {
        case .block: return Decision(reason: .modeBlock)
        case .permit: return Decision(reason: .modePermit)
        case .secure, nil: break
        }
        if let exempt = DefaultExemptions.exemption(
            key,
            direction: direction,
            level: exemptionLevel,
            broadcastAddresses: broadcastAddresses
        ) {
            return Decision(reason: exempt)
        }
        guard let index = table.lookup(key, direction) else {
            return Decision(reason: .noMatch, fastPath: replyAlsoPermitted(key, direction))
        }
        let action = table.action(index, direction)
        switch action.kind {
        case .permit:
            return Decision(reason: .permitted, filter: index, fastPath: replyAlsoPermitted(key, direction))
        case .block:
            return Decision(reason: .blocked, filter: index)
        case .negotiate:
            if securityAssociations.isProtected(key, direction: direction, mark: mark) {
                return Decision(reason: .protected, filter: index)
            }
            if direction == .inbound && action.inboundPassThrough {
                return Decision(reason: .clearInboundPassThrough, filter: index)
            }
            if direction == .outbound && action.allowFallbackToClear {
                return Decision(reason: .clearFallback, filter: index)
            }
            return Decision(reason: .negotiationRequired, filter: index)
        }
    }

    /// The fast path marks a whole connection, both directions: allowed only when the replies are
    /// permitted by the same table too (no block or negotiate filter, no exemption involved).
    @inline(__always)
    func replyAlsoPermitted(_ key: PacketKey, _ direction: TrafficDirection) -> Bool {
        guard fastPath else { return false }
        let reply = key.reversed
        let replyDirection: TrafficDirection = direction == .inbound ? .outbound : .inbound
        guard let index = table.lookup(reply, replyDirection) else { return true }
        return table.action(index, replyDirection).kind == .permit
    }
}
