public import DecisionCore
import IPsecSystem
public import Logging
public import PolicyModel

/// Where the driver's events go: drop events and periodic summaries.
///
/// Called from queue reader threads (rate-limited) and from the driver's summary task; must not block
/// for long.
public protocol DriverEventSink: Sendable {
    /// One event; `priority` is a syslog priority (3 error, 4 warning, 5 notice, 6 info).
    func event(_ message: String, priority: Int)
}

/// Logs the driver's events through swift-log: what a driver whose owner names no sink uses (the
/// benchmarks' harnesses). The service gives its drivers `JournalDriverEventSink` instead, which logs the
/// same events through the same swift-log path with their journal MESSAGE_ID.
public struct LoggingDriverEventSink: DriverEventSink {
    public var logger: Logger

    /// `logger` defaults to standard error, so that events never mix with a harness's results on
    /// standard output.
    public init(
        logger: Logger = Logger(
            label: "ipsecsvc-driver",
            factory: { label in StreamLogHandler.standardError(label: label) }
        )
    ) {
        self.logger = logger
    }

    public func event(_ message: String, priority: Int) {
        logger.log(level: Logger.Level(syslogPriority: priority), "\(message)")
    }
}

extension Logger.Level {
    /// The level of a syslog priority (0 emergency … 7 debug); swift-log has no emergency or alert, so
    /// both are critical.
    public init(syslogPriority priority: Int) {
        switch priority {
        case ...2: self = .critical
        case 3: self = .error
        case 4: self = .warning
        case 5: self = .notice
        case 6: self = .info
        default: self = .debug
        }
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
