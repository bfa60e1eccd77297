internal import CSystemd
import IPsecSystem

/// The service manager notification channel (`sd_notify`). The agent calls it on readiness, reload,
/// stop and for each watchdog ping; implementations must not block.
public protocol ServiceNotifier: Sendable {
    /// Sends one notification: `FIELD=value` lines joined by newlines.
    func notify(_ fields: [String])

    /// The watchdog interval systemd expects pings within (`WATCHDOG_USEC`), if the watchdog is on.
    var watchdogInterval: Duration? { get }
}

extension ServiceNotifier {
    /// `READY=1` with a `STATUS=` line.
    public func ready(status: String) { notify(["READY=1", "STATUS=\(status)"]) }
    /// `RELOADING=1` with the monotonic time systemd 253+ wants.
    public func reloading() { notify(["RELOADING=1", "MONOTONIC_USEC=\(SystemClock.monotonicMicroseconds())"]) }
    /// `STOPPING=1`.
    public func stopping(status: String) { notify(["STOPPING=1", "STATUS=\(status)"]) }
    /// `STATUS=` alone.
    public func status(_ text: String) { notify(["STATUS=\(text)"]) }
    /// `WATCHDOG=1`.
    public func watchdog() { notify(["WATCHDOG=1"]) }
}

/// `sd_notify` on `NOTIFY_SOCKET`; a no-op when the variable is not set.
public struct SystemdNotifier: ServiceNotifier {
    public init() {}

    public func notify(_ fields: [String]) {
        _ = fields.joined(separator: "\n").withCString { sd_notify(0, $0) }
    }

    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds))
    }
}
