public import DecisionCore
import IPsecSystem
public import PolicyModel

/// Where the driver's events go: drop events and periodic summaries.
///
/// Called from queue reader threads (rate-limited) and from the driver's summary task; must not block
/// for long.
public protocol DriverEventSink: Sendable {
    /// One event; `priority` is a syslog priority (3 error, 4 warning, 5 notice, 6 info).
    func event(_ message: String, priority: Int)
}

/// Writes events to standard error with a `<N>` syslog prefix, which journald turns into the
/// entry's priority when the service runs under systemd.
public struct StandardErrorEventSink: DriverEventSink {
    public init() {}

    public func event(_ message: String, priority: Int) {
        // Best effort: an event that cannot be written has nowhere else to go.
        try? FileSystem.writeAll(
            Array("<\(priority)>ipsecsvc-driver: \(message)\n".utf8),
            to: 2,
            name: "standard error"
        )
    }
}

/// `ipsecdiagnostics` (windows-ipsec.md §4.5) as the driver reads it.
public struct DiagnosticsLevel: Hashable, Sendable {
    public var rawValue: Int

    public init(_ rawValue: Int) { self.rawValue = max(0, min(7, rawValue)) }

    /// Bit 1: events for SA problems ("negotiation required" drops, both directions).
    public var logsNegotiationFailures: Bool { rawValue & 1 != 0 }
    /// Bit 2: per-packet events for dropped inbound packets.
    public var logsInboundDrops: Bool { rawValue & 2 != 0 }
    /// Bit 4: per-packet events for dropped outbound packets.
    public var logsOutboundDrops: Bool { rawValue & 4 != 0 }

    /// Whether a dropped packet with `reason` in `direction` gets an event.
    public func logs(_ reason: DecisionReason, _ direction: TrafficDirection) -> Bool {
        guard !reason.accepts else { return false }
        if reason == .negotiationRequired && logsNegotiationFailures { return true }
        return direction == .inbound ? logsInboundDrops : logsOutboundDrops
    }
}

/// A token bucket for per-packet events: `rate` events per second with bursts of `rate`.
struct EventRateLimiter {
    var rate: Double
    var tokens: Double
    var last: UInt64

    init(rate: Double) {
        self.rate = rate
        tokens = rate
        last = SystemClock.monotonicNanoseconds()
    }

    /// Whether one more event may go out now.
    mutating func allow() -> Bool {
        let now = SystemClock.monotonicNanoseconds()
        tokens = min(rate, tokens + Double(now &- last) / 1e9 * rate)
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}

/// The text of a drop event: what, which way, why, and which filter of which rule and source.
func dropEventText(
    _ key: PacketKey,
    _ direction: TrafficDirection,
    _ decision: Decision,
    _ table: FilterTable
) -> String {
    var text = "dropped \(direction.rawValue) \(key): \(decision.reason)"
    if let index = decision.filter {
        let effective = table.policy.filters[table.filters[index].policyIndex]
        let p = effective.provenance
        text +=
            " by filter \(effective.filter.id) of rule '\(p.ruleName)', policy '\(p.policyName)', source \(p.source)"
    }
    return text
}
