public import PolicyModel

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
    /// A negotiate filter matched; clear traffic accepted because of `soft`: without IKE outbound at
    /// once, with IKE in both directions once the peer did not answer (a soft association).
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
    /// Loopback traffic: never filtered (the kernel hooks accept it before the queue).
    case loopback
    /// Startup permit mode: nothing is filtered.
    case startupPermit
    /// Startup stateful mode: outbound traffic passes.
    case startupOutbound
    /// Startup stateful mode: a reply to a connection this computer opened passes.
    case startupReply
    /// Stateful or block startup mode: DHCP passes.
    case startupDHCP
    /// Stateful or block startup mode: a `bootexemptions` entry lets the packet through.
    case bootExemption
    /// Stateful or block startup mode: dropped.
    case startupBlocked
    /// A negotiate filter matched a clear outbound packet while keying negotiates with its peer:
    /// dropped (not held).
    case negotiating

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
        case .loopback: "loopback"
        case .startupPermit: "startup-permit"
        case .startupOutbound: "startup-outbound"
        case .startupReply: "startup-reply"
        case .startupDHCP: "startup-dhcp"
        case .bootExemption: "boot-exemption"
        case .startupBlocked: "startup-blocked"
        case .negotiating: "negotiating"
        }
    }

    /// Whether packets with this reason are accepted.
    public var accepts: Bool {
        switch self {
        case .blocked, .negotiationRequired, .negotiating, .malformed, .modeBlock, .startupBlocked: false
        default: true
        }
    }

    /// The filter action the reason belongs to, for per-action counters (`nil`: no filter decided).
    public var action: FilterActionKind? {
        switch self {
        case .noMatch, .permitted: .permit
        case .blocked: .block
        case .protected, .clearInboundPassThrough, .clearFallback, .negotiationRequired, .negotiating: .negotiate
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
