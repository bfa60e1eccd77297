import DecisionCore
import PolicyModel

extension DriverStatus {
    /// The counters in the order and under the names of the IPsec section of Windows Server 2003's
    /// `netsh ipsec dynamic show stats`, then the emulator's own decision counters. SA counters are
    /// the kernel's business and read 0 here (this driver does not negotiate).
    public var netshStatistics: [(name: String, value: UInt64)] {
        let decisions = counters.decisions ?? DriverCounters.Decisions()
        func packets(_ reason: DecisionReason) -> UInt64 { decisions.byReason[reason]?.packets ?? 0 }
        return [
            ("Active Associations", 0),
            ("Offload Associations", 0),
            ("Pending Key Operations", 0),
            ("Key Additions", 0),
            ("Key Deletions", 0),
            ("ReKeys", 0),
            ("Active Tunnels", 0),
            ("Bad SPI Packets", 0),
            ("Packets Not Decrypted", 0),
            ("Packets Not Authenticated", 0),
            ("Packets With Replay Detection", 0),
            ("Confidential Bytes Sent", 0),
            ("Confidential Bytes Received", 0),
            ("Authenticated Bytes Sent", 0),
            ("Authenticated Bytes Received", 0),
            ("Transport Bytes Sent", 0),
            ("Transport Bytes Received", 0),
            ("Bytes Sent In Tunnels", 0),
            ("Bytes Received In Tunnels", 0),
            ("Offloaded Bytes Sent", 0),
            ("Offloaded Bytes Received", 0),
            ("Packets Filtered", decisions.packets),
            ("Packets Permitted", decisions.byAction[.permit]?.packets ?? 0),
            ("Packets Blocked", decisions.drops(.blocked)),
            ("Packets Protected", packets(.protected)),
            ("Packets Dropped (Negotiation Required)", decisions.drops(.negotiationRequired)),
            (
                "Packets Accepted In Clear (inpass/soft)",
                packets(.clearInboundPassThrough) &+ packets(.clearFallback)
            ),
            (
                "Packets Exempt",
                DecisionReason.allCases.filter { "\($0)".hasPrefix("exempt-") }
                    .reduce(0) { $0 &+ packets($1) }
            ),
            ("Packets Malformed", decisions.drops(.malformed)),
            ("Queue Drops", counters.queueDrops),
            ("Fast-Path Flows", decisions.fastPathMarked),
        ]
    }
}
