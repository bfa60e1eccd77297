/// What the kernel-only modes dropped, from the counters of their final `-j DROP` rules, and how often
/// the driver restored rules that another program removed.
///
/// The kernel resets a rule's counters whenever its chain is rewritten (every mode change, and a
/// foreign `iptables-restore`): the driver folds each reading into a running total first.
struct KernelRuleCounters: Sendable {
    /// `mode/direction` → packets counted in rules that no longer exist.
    private var folded: [String: UInt64] = [:]
    /// `family/mode/direction` → the last reading of the rules in place now.
    private var live: [String: UInt64] = [:]
    /// Times the hooks were found damaged and restored.
    var restored: UInt64 = 0
    /// The last damage found, for `status`.
    var lastDamage: String?

    /// A reading of `family`'s rules while `mode` (a ``HookState/kernelDropMode``) is in force. A value
    /// below the previous one means someone else reset the rules: the previous one is kept.
    mutating func read(_ hooks: ExistingHooks, family: IPFamily, mode: String?, configuration: HookConfiguration) {
        guard let mode else { return }
        let counters = hooks.dropCounters(configuration)
        for (direction, value) in [("inbound", counters.inbound), ("outbound", counters.outbound)] {
            let key = "\(family.rawValue)/\(mode)/\(direction)"
            if let previous = live[key], value < previous { folded["\(mode)/\(direction)", default: 0] &+= previous }
            live[key] = value
        }
    }

    /// The rules of `mode` are being replaced; `before` is what each family held just before.
    mutating func replaced(_ before: [IPFamily: ExistingHooks], mode: String?, configuration: HookConfiguration) {
        for (family, hooks) in before {
            read(hooks, family: family, mode: mode, configuration: configuration)
        }
        for (key, value) in live {
            let parts = key.split(separator: "/")
            folded["\(parts[1])/\(parts[2])", default: 0] &+= value
        }
        live = [:]
    }

    /// Adds the kernel drop counters (`drops.mode.<mode>.<direction>`) and `hooks.restored` to `status`'s.
    func add(to counters: inout DriverCounters) {
        var totals = folded
        for (key, value) in live {
            let parts = key.split(separator: "/")
            totals["\(parts[1])/\(parts[2])", default: 0] &+= value
        }
        for (key, value) in totals where value != 0 {
            let parts = key.split(separator: "/")
            counters.kernelDrops[DriverCounters.KernelDropKey(mode: String(parts[0]), direction: String(parts[1]))] =
                value
        }
        counters.hooksRestored = restored
    }
}
