import IPsecSystem

/// Why the driver could not do what it was asked, worded for `status` and the journal.
public struct DriverError: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    /// What went wrong, for programs (`status --json`, tests).
    public enum Kind: String, Hashable, Sendable, Codable {
        /// Another process holds a queue the driver needs.
        case queueBusy = "queue-busy"
        /// Another process reads the driver's NFLOG group.
        case logGroupBusy = "log-group-busy"
        /// `iptables-restore` refused the driver's rules (or could not run).
        case rulesRejected = "rules-rejected"
        /// Another ipsecsvc driver runs in this network namespace.
        case anotherInstance = "another-instance"
        /// Not allowed (no `CAP_NET_ADMIN`).
        case notPermitted = "not-permitted"
        /// Anything else.
        case failed
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// A queue that could not be opened or bound: `EPERM` on the bind means another process holds it
    /// (the kernel keeps a queue for the socket that bound it first), on the socket a missing capability.
    static func queue(_ queue: UInt16, _ error: SystemError) -> DriverError {
        guard error.errno == .notPermitted || error.errno == .permissionDenied else {
            return DriverError(.failed, "NFQUEUE \(queue) cannot be used: \(error)")
        }
        if error.operation.hasPrefix("bind queue") {
            let holder = queueHolder(queue).map { " (netlink port \($0), usually its PID)" } ?? ""
            return DriverError(
                .queueBusy,
                "NFQUEUE \(queue) is held by another process\(holder): stop it or set another queue number"
            )
        }
        return DriverError(.notPermitted, "NFQUEUE \(queue) cannot be used without CAP_NET_ADMIN: \(error)")
    }

    /// The netlink port that has `queue` bound, from `/proc/net/netfilter/nfnetlink_queue` (queue
    /// number, then the peer's port id).
    static func queueHolder(_ queue: UInt16, procText: String? = nil) -> UInt64? {
        let text =
            procText ?? (try? FileSystem.readTextIfPresent("/proc/net/netfilter/nfnetlink_queue", limit: 8 << 20))
            ?? nil ?? ""
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).compactMap { UInt64($0) }
            if fields.count >= 2, fields[0] == UInt64(queue) { return fields[1] }
        }
        return nil
    }
}
