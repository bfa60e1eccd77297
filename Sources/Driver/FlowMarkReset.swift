import CNetfilterQueue
public import IPsecSystem

/// Forgets the connections that carry a fast-path epoch, so that the epoch can be used again.
///
/// The fast-path rule accepts in the kernel every packet of a connection whose conntrack mark holds the
/// current epoch. An epoch is used again after the 12-bit field wraps, and every start (after a crash, a
/// graceful stop or a reboot) begins somewhere in that field: a connection marked under an older table
/// would then be accepted without a decision. Before the driver makes an epoch current it deletes the
/// conntrack entries marked with it (the kernel's mark-filtered flush: one netlink request, no tool);
/// their next packet creates a new entry and is decided again by the queue. Entries of other software
/// carry no mark in the driver's field and are untouched.
public enum FlowMarkReset {
    /// Deletes every conntrack entry whose mark masked with `mask` equals `mark`.
    /// - Throws: ``SystemError`` (`conntrack flush`), e.g. without `CAP_NET_ADMIN`.
    public static func forget(mark: UInt32, mask: UInt32) throws(SystemError) {
        let result = cnct_flush_mark(mark, mask)
        if result < 0 {
            throw SystemError(
                "delete the connections marked \(hex(mark))/\(hex(mask))",
                path: "conntrack",
                errno: Errno(rawValue: -result)
            )
        }
    }

    static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
}
