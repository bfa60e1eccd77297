/// What of the driver's hooks a ruleset holds, parsed from `iptables-save` (with or without `-c`):
/// the driver's chains, the jumps into them, and each chain's rules with their packet counters.
public struct ExistingHooks: Hashable, Sendable {
    /// One rule of a driver chain.
    public struct Rule: Hashable, Sendable {
        /// The rule after `-A CHAIN`, as `iptables-save` prints it.
        public var text: String
        /// Packets and bytes that hit it (`iptables-save -c`; 0 without counters).
        public var packets: UInt64
        public var bytes: UInt64

        public init(text: String, packets: UInt64 = 0, bytes: UInt64 = 0) {
            self.text = text
            self.packets = packets
            self.bytes = bytes
        }
    }

    /// `table/CHAIN` of the driver's chains that exist.
    public var chains: Set<String>
    /// `table/BUILTIN/CHAIN` of the jumps into them that exist.
    public var jumps: Set<String>
    /// `table/CHAIN` → the chain's rules in order.
    public var rules: [String: [Rule]]

    public init(chains: Set<String> = [], jumps: Set<String> = [], rules: [String: [Rule]] = [:]) {
        self.chains = chains
        self.jumps = jumps
        self.rules = rules
    }

    /// Reads `iptables-save` (or `iptables-save -c`) output, keeping only what belongs to `configuration`.
    public static func parse(_ saveOutput: String, _ configuration: HookConfiguration) -> ExistingHooks {
        var result = ExistingHooks()
        var table = ""
        let ours = "\(configuration.chainPrefix)-"
        for raw in saveOutput.split(separator: "\n") {
            var line = Substring(raw).trimmingWhitespace()
            if line.hasPrefix("*") {
                table = String(line.dropFirst())
                continue
            }
            if line.hasPrefix(":\(ours)") {
                let name = line.dropFirst().split(separator: " ").first.map(String.init) ?? ""
                result.chains.insert("\(table)/\(name)")
                continue
            }
            // `-c` output starts each rule with its counters: "[12:3456] -A CHAIN ...".
            var packets: UInt64 = 0
            var bytes: UInt64 = 0
            if line.hasPrefix("["), let close = line.firstIndex(of: "]") {
                let counters = line[line.index(after: line.startIndex)..<close].split(separator: ":")
                if counters.count == 2 {
                    packets = UInt64(counters[0]) ?? 0
                    bytes = UInt64(counters[1]) ?? 0
                }
                line = line[line.index(after: close)...].trimmingWhitespace()
            }
            guard line.hasPrefix("-A ") else { continue }
            let words = line.split(separator: " ", maxSplits: 2).map(String.init)
            guard words.count == 3 else { continue }
            if words[1].hasPrefix(ours) {
                result.rules["\(table)/\(words[1])", default: []].append(
                    Rule(text: words[2], packets: packets, bytes: bytes)
                )
            } else if words[2].hasPrefix("-j \(ours)"), !words[2].dropFirst(3).contains(" ") {
                // Only the exact jumps the driver writes: "-A INPUT -j IPSECSVC-IN".
                result.jumps.insert("\(table)/\(words[1])/\(words[2].dropFirst(3))")
            }
        }
        return result
    }

    /// What differs from the rules `state` needs (missing chains or jumps, rules added or removed by
    /// someone else); empty when the kernel holds exactly the driver's hooks. Rule texts are not compared
    /// (`iptables-save` rewrites them), their number is.
    public func problems(
        for state: HookState,
        family: IPFamily,
        configuration: HookConfiguration,
        dropLogging: DropLogging = .none
    ) -> [String] {
        var problems: [String] = []
        for plan in KernelHookScript.plan(
            for: state,
            family: family,
            configuration: configuration,
            dropLogging: dropLogging
        ) {
            guard let expected = plan.rules else { continue }
            let chain = "\(plan.table)/\(plan.chain)"
            if !chains.contains(chain) {
                problems.append("\(family.rawValue) chain \(chain) is missing")
                continue
            }
            if !jumps.contains("\(plan.table)/\(plan.builtin)/\(plan.chain)") {
                problems.append("\(family.rawValue) jump \(plan.table) \(plan.builtin) → \(plan.chain) is missing")
            }
            let count = rules[chain]?.count ?? 0
            if count != expected.count {
                problems.append("\(family.rawValue) chain \(chain) has \(count) rules instead of \(expected.count)")
            }
        }
        return problems
    }

    /// Packets dropped by the final `-j DROP` of the inbound and outbound chains (kernel-only modes).
    public func dropCounters(_ configuration: HookConfiguration) -> (inbound: UInt64, outbound: UInt64) {
        func last(_ chain: String) -> UInt64 {
            guard let rule = rules["mangle/\(chain)"]?.last, rule.text == "-j DROP" else { return 0 }
            return rule.packets
        }
        return (last(configuration.inboundChain), last(configuration.outboundChain))
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" || first == "\r" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text = text.dropLast() }
        return text
    }
}

/// Whether the kernel-only drop modes log what they drop (`ipsecdiagnostics` bits 2 and 4) to the
/// driver's NFLOG group, which the driver reads (``DropLogReader``).
public struct DropLogging: Hashable, Sendable {
    public var inbound: Bool
    public var outbound: Bool
    /// Log lines per second and direction the kernel passes at most (the rest are only counted).
    public var perSecond: Int

    public init(inbound: Bool, outbound: Bool, perSecond: Int = 20) {
        self.inbound = inbound
        self.outbound = outbound
        self.perSecond = max(1, perSecond)
    }

    public static let none = DropLogging(inbound: false, outbound: false)

    /// What `ipsecdiagnostics` asks for.
    public init(_ level: DiagnosticsLevel, perSecond: Int = 20) {
        self.init(inbound: level.logsInboundDrops, outbound: level.logsOutboundDrops, perSecond: perSecond)
    }

    public var isEnabled: Bool { inbound || outbound }
}
