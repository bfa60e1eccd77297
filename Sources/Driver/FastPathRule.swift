import CNetfilterQueue
public import IPsecSystem

/// Moves the fast-path rules to a new epoch in place, without a process.
///
/// A policy change needs the `connmark` rule of both chains to name the new epoch. Writing the chains
/// again is an `iptables-restore` process (tens of milliseconds, more on a loaded machine); this rewrites
/// only the epoch inside the two rules, by rule handle, in one nf_tables transaction over netlink
/// (`nftrule.h`): both chains change together or neither does.
public enum FastPathRule {
    /// Replaces the connmark match `old`/`mask` (`nil`: whatever epoch it names) with `new`/`mask` in
    /// the IPv4 `mangle` chains `inbound` and `outbound`.
    /// - Throws: ``SystemError``, `ENOENT` when a chain has no such rule (the caller then writes the
    ///   chains whole), or the kernel's refusal of the transaction (nothing changed).
    public static func move(
        inbound: String,
        outbound: String,
        mask: UInt32,
        from old: UInt32?,
        to new: UInt32
    ) throws(SystemError) {
        let result = cnft_rewrite_connmark("mangle", inbound, outbound, mask, old ?? 0, old == nil ? 1 : 0, new)
        if result < 0 {
            throw SystemError(
                "move the fast-path rules from \(old.map(FlowMarkReset.hex) ?? "any epoch") to \(FlowMarkReset.hex(new))",
                path: "nf_tables mangle \(inbound) \(outbound)",
                errno: Errno(rawValue: -result)
            )
        }
    }
}
