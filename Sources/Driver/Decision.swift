public import PolicyModel

/// Whether a packet is protected by IPsec: the check behind the negotiate action.
///
/// Called on a queue reader thread for every packet that matches a negotiate filter; must be fast
/// and must not block.
public protocol SecurityAssociations: Sendable {
    /// Whether `key`, travelling in `direction` with packet mark `mark`, is (inbound) or will be
    /// (outbound) protected by a kernel IPsec SA.
    func isProtected(_ key: PacketKey, direction: TrafficDirection, mark: UInt32) -> Bool
}

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

/// The packet-mark bits the driver owns (documented in docs/driver.md).
public struct DriverMarks: Hashable, Sendable {
    /// Set by the `policy` match rules on packets IPsec protects (or will protect).
    public var protected: UInt32
    /// The fast-path field: holds the epoch (≠ 0) of the table that permitted the flow.
    public var flowMask: UInt32

    public init(protected: UInt32, flowMask: UInt32) {
        self.protected = protected
        self.flowMask = flowMask
    }

    /// 0x40000000 for "protected", 0x0FFF0000 for the flow epoch (12 bits).
    public static let `default` = DriverMarks(protected: 0x4000_0000, flowMask: 0x0FFF_0000)

    /// The mark value of `epoch` inside the flow field.
    public func flowMark(epoch: UInt32) -> UInt32 {
        let shift = UInt32(flowMask.trailingZeroBitCount)
        return (epoch << shift) & flowMask
    }

    /// How many distinct epochs the flow field can hold (0 is "undecided").
    public var epochModulus: UInt32 { (flowMask >> UInt32(flowMask.trailingZeroBitCount)) }
}

/// Why a packet was accepted or dropped: the counter and drop-event vocabulary.
public enum DecisionReason: Int, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// No filter matched (permit).
    case noMatch
    /// A permit filter matched.
    case permitted
    /// A block filter matched.
    case blocked
    /// A negotiate filter matched and IPsec protects the packet.
    case protected
    /// A negotiate filter matched; clear inbound accepted because of `inpass`.
    case clearInboundPassThrough
    /// A negotiate filter matched; clear outbound accepted because of `soft`.
    case clearFallback
    /// A negotiate filter matched, the packet is clear and no flag allows it: "negotiation required".
    case negotiationRequired
    /// IKE (UDP 500, 4500): always exempt.
    case exemptIKE
    /// Multicast (`ipsecexempt` 0, 1; inbound at 3).
    case exemptMulticast
    /// Broadcast (`ipsecexempt` 0, 1; inbound at 3).
    case exemptBroadcast
    /// RSVP, IP protocol 46 (`ipsecexempt` 0, 2).
    case exemptRSVP
    /// Kerberos, TCP/UDP port 88 (`ipsecexempt` 0, 2).
    case exemptKerberos
    /// Not IPv4 (cannot happen with the driver's own rules; accepted, counted).
    case notIPv4
    /// A header too short or inconsistent to classify.
    case malformed
    /// The operational mode is block (only reaches user space between rule swaps).
    case modeBlock
    /// The operational mode is permit (only reaches user space between rule swaps).
    case modePermit

    /// The name counters and events use.
    public var description: String {
        switch self {
        case .noMatch: "no-match"
        case .permitted: "permitted"
        case .blocked: "blocked"
        case .protected: "protected"
        case .clearInboundPassThrough: "clear-inpass"
        case .clearFallback: "clear-soft"
        case .negotiationRequired: "negotiation-required"
        case .exemptIKE: "exempt-ike"
        case .exemptMulticast: "exempt-multicast"
        case .exemptBroadcast: "exempt-broadcast"
        case .exemptRSVP: "exempt-rsvp"
        case .exemptKerberos: "exempt-kerberos"
        case .notIPv4: "not-ipv4"
        case .malformed: "malformed"
        case .modeBlock: "mode-block"
        case .modePermit: "mode-permit"
        }
    }

    /// Whether packets with this reason are accepted.
    public var accepts: Bool {
        switch self {
        case .blocked, .negotiationRequired, .malformed, .modeBlock: false
        default: true
        }
    }

    /// The filter action the reason belongs to, for per-action counters (`nil`: no filter decided).
    public var action: FilterActionKind? {
        switch self {
        case .noMatch, .permitted: .permit
        case .blocked: .block
        case .protected, .clearInboundPassThrough, .clearFallback, .negotiationRequired: .negotiate
        default: nil
        }
    }
}

/// The outcome for one packet.
public struct Decision: Hashable, Sendable {
    public var reason: DecisionReason
    /// Index of the deciding filter in ``FilterTable/filters``, if a filter decided.
    public var filter: Int?
    /// Whether later packets of this connection may bypass user space (fast path).
    public var fastPath: Bool

    public var accepts: Bool { reason.accepts }

    public init(reason: DecisionReason, filter: Int? = nil, fastPath: Bool = false) {
        self.reason = reason
        self.filter = filter
        self.fastPath = fastPath
    }
}

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

/// Everything one packet decision needs, swapped as a whole so that a packet always sees one
/// consistent table, mode and setting set.
public final class DecisionContext: Sendable {
    public let table: FilterTable
    /// The operational mode in force (`nil` before the service reached one: decide by the table).
    public let mode: OperationalMode?
    public let exemptionLevel: Int
    public let broadcastAddresses: Set<UInt32>
    public let securityAssociations: any SecurityAssociations
    /// Fast-path epoch (1…``DriverMarks/epochModulus``); 0 turns the fast path off.
    public let epoch: UInt32
    public let marks: DriverMarks
    public let diagnosticsLevel: Int
    /// Per-filter counters of this context's packets (folded into the totals when it is replaced).
    let counters: TableCounters

    public init(
        table: FilterTable,
        mode: OperationalMode? = .secure,
        exemptionLevel: Int = 3,
        broadcastAddresses: Set<UInt32> = [],
        securityAssociations: any SecurityAssociations = KernelSecurityAssociations(),
        epoch: UInt32 = 0,
        marks: DriverMarks = .default,
        diagnosticsLevel: Int = 0
    ) {
        self.table = table
        self.mode = mode
        self.exemptionLevel = exemptionLevel
        self.broadcastAddresses = broadcastAddresses
        self.securityAssociations = securityAssociations
        self.epoch = epoch
        self.marks = marks
        self.diagnosticsLevel = diagnosticsLevel
        self.counters = TableCounters(count: table.filters.count)
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
        guard epoch != 0 else { return false }
        let reply = key.reversed
        let replyDirection: TrafficDirection = direction == .inbound ? .outbound : .inbound
        guard let index = table.lookup(reply, replyDirection) else { return true }
        return table.action(index, replyDirection).kind == .permit
    }
}
