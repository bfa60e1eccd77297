import DecisionCore
public import PolicyModel

/// What the kernel hooks enforce: one state per driver mode (docs/driver.md has the rules).
public enum HookState: Hashable, Sendable {
    /// No chains, no jumps: nothing filtered (startup permit, operational permit, graceful stop).
    case removed
    /// Outbound passes, replies come in through conntrack, other inbound is dropped; DHCP and the
    /// boot exemptions pass. IPv6 is not filtered.
    case startupStateful([BootExemption])
    /// Everything dropped but DHCP and the boot exemptions, IPv4 and IPv6.
    case startupBlock([BootExemption])
    /// Everything dropped (loopback excepted), IPv4 and IPv6.
    case operationalBlock
    /// IPv4 goes to the queue except flows whose conntrack mark carries `epoch` (the fast path).
    /// IPv6 is not filtered.
    case secure(epoch: UInt32)

    /// The name of a mode whose drops the kernel does alone (no queue): `startup-stateful`,
    /// `startup-block`, `block`; `nil` for the others.
    public var kernelDropMode: String? {
        switch self {
        case .startupStateful: "startup-stateful"
        case .startupBlock: "startup-block"
        case .operationalBlock: "block"
        case .removed, .secure: nil
        }
    }
}

/// IP version of a ruleset (`iptables-restore` or `ip6tables-restore`).
public enum IPFamily: String, Hashable, Sendable, CaseIterable {
    case ipv4
    case ipv6

    /// The restore command for this family.
    public var restoreCommand: String { self == .ipv4 ? "iptables-restore" : "ip6tables-restore" }
    /// The save command for this family.
    public var saveCommand: String { self == .ipv4 ? "iptables-save" : "ip6tables-save" }
}

/// Names, queues and marks of the driver's kernel hooks.
public struct HookConfiguration: Hashable, Sendable {
    /// Prefix of every chain the driver owns (`IPSECSVC-IN`, `IPSECSVC-OUT`, `IPSECSVC-SAVE`).
    public var chainPrefix: String
    /// First NFQUEUE number.
    public var queueBase: UInt16
    /// How many queues (`--queue-balance` when more than one).
    public var queueCount: Int
    public var marks: DriverMarks
    /// kernel-libipsec's TUN device (`ike_datapath = libipsec`): packets that come in or go out
    /// through it are the protected ones, marked like those of an XFRM policy.
    public var protectedInterface: String?

    public init(
        chainPrefix: String = "IPSECSVC",
        queueBase: UInt16 = 4200,
        queueCount: Int = 1,
        marks: DriverMarks = .default,
        protectedInterface: String? = nil
    ) {
        self.chainPrefix = chainPrefix
        self.queueBase = queueBase
        self.queueCount = max(1, queueCount)
        self.marks = marks
        self.protectedInterface = protectedInterface
    }

    public var inboundChain: String { "\(chainPrefix)-IN" }
    public var outboundChain: String { "\(chainPrefix)-OUT" }
    public var saveChain: String { "\(chainPrefix)-SAVE" }
    /// The NFLOG group the kernel-only drop modes log to (the queue base: groups are another number space).
    public var logGroup: UInt16 { queueBase }

    /// The queue numbers the readers bind.
    public var queues: [UInt16] { (0..<queueCount).map { queueBase + UInt16($0) } }
}

/// Generates the `iptables-restore --noflush` input that moves the driver's hooks to a state.
///
/// Pure: the text depends only on its arguments. It declares (and so flushes) only the driver's own
/// chains, inserts the jumps into `INPUT`/`OUTPUT` only when missing, and never names another chain.
public enum KernelHookScript {
    /// One chain of the driver as a state wants it: `rules` `nil` means the chain and its jump go away.
    public struct ChainPlan: Hashable, Sendable {
        public var table: String
        public var chain: String
        /// The built-in chain that jumps to it (`INPUT`, `OUTPUT`).
        public var builtin: String
        public var rules: [String]?
    }

    public static func script(
        for state: HookState,
        family: IPFamily,
        configuration: HookConfiguration,
        existing: ExistingHooks,
        dropLogging: DropLogging = .none
    ) -> String {
        let plan = plan(for: state, family: family, configuration: configuration, dropLogging: dropLogging)
        var text = ""
        for table in ["mangle", "filter"] {
            text += block(
                table: table,
                chains: plan.filter { $0.table == table }.map { ($0.chain, $0.builtin, $0.rules) },
                existing: existing
            )
        }
        return text
    }

    /// Every chain the driver owns in `family`, with the rules `state` puts in it.
    public static func plan(
        for state: HookState,
        family: IPFamily,
        configuration c: HookConfiguration,
        dropLogging: DropLogging = .none
    ) -> [ChainPlan] {
        var (inbound, outbound) = rules(for: state, family: family, configuration: c)
        if let mode = state.kernelDropMode {
            inbound = inbound.map { logged($0, mode, .inbound, dropLogging.inbound, dropLogging, c) }
            outbound = outbound.map { logged($0, mode, .outbound, dropLogging.outbound, dropLogging, c) }
        }
        var save: [String]? = nil
        if family == .ipv4, case .secure(let epoch) = state, epoch != 0 {
            // Any epoch, not only the current one: the rule stays the same when the epoch moves
            // (``FastPathRule``). An older epoch saved by a verdict of the old table never matches the
            // fast-path rule, which names the current one.
            let mask = hex(c.marks.flowMask)
            save = ["-m mark ! --mark 0x0/\(mask) -j CONNMARK --save-mark --nfmask \(mask) --ctmask \(mask)"]
        }
        return [
            ChainPlan(table: "mangle", chain: c.inboundChain, builtin: "INPUT", rules: inbound),
            ChainPlan(table: "mangle", chain: c.outboundChain, builtin: "OUTPUT", rules: outbound),
            ChainPlan(table: "filter", chain: c.saveChain, builtin: "INPUT", rules: save),
            ChainPlan(table: "filter", chain: c.saveChain, builtin: "OUTPUT", rules: save),
        ]
    }

    /// `rules` with an NFLOG rule before its final `-j DROP` when `enabled`: the kernel passes at most
    /// ``DropLogging/perSecond`` dropped packets a second to the driver's log group, each with the
    /// prefix `ipsecsvc:<mode>:<in|out>` (``DropLogPrefix``).
    static func logged(
        _ rules: [String],
        _ mode: String,
        _ side: TrafficDirection,
        _ enabled: Bool,
        _ logging: DropLogging,
        _ c: HookConfiguration
    ) -> [String] {
        guard enabled, rules.last == "-j DROP" else { return rules }
        let prefix = DropLogPrefix(mode: mode, direction: side).text
        let log =
            "-m limit --limit \(logging.perSecond)/sec --limit-burst \(logging.perSecond) -j NFLOG "
            + "--nflog-group \(c.logGroup) --nflog-prefix \(prefix) --nflog-size 128"
        return rules.dropLast() + [log, "-j DROP"]
    }

    /// One table's section. A chain with rules `nil` is removed (jump deleted, chain flushed and
    /// deleted) if it exists; otherwise it is declared (flushed), hooked if needed and filled.
    static func block(table: String, chains: [(String, String, [String]?)], existing: ExistingHooks) -> String {
        var lines: [String] = []
        var declared: Set<String> = []
        var removed: Set<String> = []
        for (chain, builtin, rules) in chains {
            let jump = "\(table)/\(builtin)/\(chain)"
            if let rules {
                if declared.insert(chain).inserted {
                    lines.append(":\(chain) - [0:0]")
                    for rule in rules { lines.append("-A \(chain) \(rule)") }
                }
                if !existing.jumps.contains(jump) { lines.append("-I \(builtin) 1 -j \(chain)") }
            } else {
                if existing.jumps.contains(jump) { lines.append("-D \(builtin) -j \(chain)") }
                if existing.chains.contains("\(table)/\(chain)") { removed.insert(chain) }
            }
        }
        for chain in removed.sorted() {
            lines.append("-F \(chain)")
            lines.append("-X \(chain)")
        }
        guard !lines.isEmpty else { return "" }
        // Declarations first: a jump may only name a declared chain; deletions of chains last.
        let sorted = lines.filter { $0.hasPrefix(":") } + lines.filter { !$0.hasPrefix(":") }
        return "*\(table)\n" + sorted.joined(separator: "\n") + "\nCOMMIT\n"
    }

    /// The rules of the inbound and outbound chain for a state, `nil` when the chains go away.
    static func rules(
        for state: HookState,
        family: IPFamily,
        configuration c: HookConfiguration
    ) -> ([String]?, [String]?) {
        let loIn = "-i lo -j ACCEPT"
        let loOut = "-o lo -j ACCEPT"
        switch state {
        case .removed:
            return (nil, nil)
        case .operationalBlock:
            return ([loIn, "-j DROP"], [loOut, "-j DROP"])
        case .startupStateful(let exemptions):
            guard family == .ipv4 else { return (nil, nil) }
            var inbound = [loIn, "-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT", dhcp(.inbound, family)]
            inbound += exemptionRules(exemptions, side: .inbound, family: family)
            inbound.append("-j DROP")
            return (inbound, [])
        case .startupBlock(let exemptions):
            let inbound =
                [loIn, dhcp(.inbound, family)] + exemptionRules(exemptions, side: .inbound, family: family) + [
                    "-j DROP"
                ]
            let outbound =
                [loOut, dhcp(.outbound, family)] + exemptionRules(exemptions, side: .outbound, family: family)
                + ["-j DROP"]
            return (inbound, outbound)
        case .secure(let epoch):
            guard family == .ipv4 else { return (nil, nil) }
            let protected = hex(c.marks.protected)
            let queue =
                c.queueCount > 1
                ? "-j NFQUEUE --queue-balance \(c.queueBase):\(Int(c.queueBase) + c.queueCount - 1)"
                : "-j NFQUEUE --queue-num \(c.queueBase)"
            var inbound = [loIn, "-m policy --dir in --pol ipsec -j MARK --set-xmark \(protected)/\(protected)"]
            var outbound = [loOut, "-m policy --dir out --pol ipsec -j MARK --set-xmark \(protected)/\(protected)"]
            if let tun = c.protectedInterface {
                inbound.append("-i \(tun) -j MARK --set-xmark \(protected)/\(protected)")
                outbound.append("-o \(tun) -j MARK --set-xmark \(protected)/\(protected)")
            }
            if epoch != 0 {
                let fast =
                    "-m connmark --mark \(hex(c.marks.flowMark(epoch: epoch)))/\(hex(c.marks.flowMask)) -j ACCEPT"
                inbound.append(fast)
                outbound.append(fast)
            }
            // No --queue-bypass: without a reader the kernel drops queued packets (fail-closed).
            inbound.append(queue)
            outbound.append(queue)
            return (inbound, outbound)
        }
    }

    /// The rule that lets DHCP travelling in `side` through in the startup modes (IPv4: the ports of
    /// ``StartupModeRules``, which `explain` decides with; IPv6: DHCPv6).
    static func dhcp(_ side: TrafficDirection, _ family: IPFamily) -> String {
        let (client, server) =
            family == .ipv4 ? (StartupModeRules.dhcpClientPort, StartupModeRules.dhcpServerPort) : (546, 547)
        let (source, destination) = side == .inbound ? (server, client) : (client, server)
        return "-p udp --sport \(source) --dport \(destination) -j ACCEPT"
    }

    /// Rules for the boot exemptions that concern packets travelling in `side`: an entry's own
    /// direction as written, the opposite direction with the ports swapped (its replies), as
    /// ``BootExemption/admits(_:direction:)`` decides them.
    static func exemptionRules(_ exemptions: [BootExemption], side: TrafficDirection, family: IPFamily) -> [String] {
        var rules: [String] = []
        for exemption in exemptions {
            let (sourcePort, destinationPort) = exemption.ports(for: side)
            var rule = ""
            switch exemption.ipProtocol {
            case IPProtocol.any: break
            case IPProtocol.tcp: rule = "-p tcp"
            case IPProtocol.udp: rule = "-p udp"
            case IPProtocol.icmp: rule = family == .ipv4 ? "-p icmp" : "-p ipv6-icmp"
            default: rule = "-p \(exemption.ipProtocol)"
            }
            if exemption.ipProtocol == IPProtocol.tcp || exemption.ipProtocol == IPProtocol.udp {
                if sourcePort != 0 { rule += " --sport \(sourcePort)" }
                if destinationPort != 0 { rule += " --dport \(destinationPort)" }
            }
            rules.append((rule.isEmpty ? "" : rule + " ") + "-j ACCEPT")
        }
        return rules
    }

    static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
}
