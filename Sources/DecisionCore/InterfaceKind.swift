public import PolicyModel

/// The connection type of a network interface, as a rule's connection type (All / LAN / Remote
/// access) selects it.
public enum InterfaceKind: String, Hashable, Sendable, Codable, CaseIterable {
    /// Every interface that is not dial-up style (Ethernet, Wi-Fi, bridges, tunnels, ...).
    case lan
    /// A point-to-point dial-up style link: PPP, SLIP, ISDN, WWAN, or a `dialup_interfaces` match.
    case remoteAccess = "dialup"
    /// The loopback interface: never filtered.
    case loopback

    /// Whether a rule with connection type `type` applies to packets on this kind of interface.
    public func isSelected(by type: InterfaceType) -> Bool {
        switch (type, self) {
        case (.all, _): true
        case (.lan, .lan), (.dialUp, .remoteAccess): true
        default: false
        }
    }

    /// How Windows names the connection type in the rule properties.
    public var displayName: String {
        switch self {
        case .lan: "LAN"
        case .remoteAccess: "remote access"
        case .loopback: "loopback"
        }
    }
}

/// Decides an interface's ``InterfaceKind`` from what the kernel says about it and from the
/// `dialup_interfaces` setting (ipsecsvc.conf): one rule for the driver and `explain`.
public struct InterfaceClassifier: Hashable, Sendable, Codable {
    /// Shell patterns (`*`, `?`, `[...]`) of interface names that count as remote access whatever
    /// their kernel type (e.g. `wg*`, `tun-dialin*`).
    public var dialupPatterns: [String]

    public init(dialupPatterns: [String] = []) {
        self.dialupPatterns = dialupPatterns
    }

    /// Kernel link types (`ARPHRD_*`, `/sys/class/net/NAME/type`) of point-to-point dial-up style
    /// links: SLIP and CSLIP (256–259), adaptive SLIP (264), X.25 (271, 272), PPP (512), Cisco HDLC
    /// (513), LAPB (516), DDCMP (517), raw HDLC (518, ISDN B channels), raw IP (519, WWAN modems).
    public static let dialupHardwareTypes: Set<UInt16> = [
        256, 257, 258, 259, 264, 271, 272, 512, 513, 516, 517, 518, 519,
    ]
    /// `ARPHRD_LOOPBACK`.
    public static let loopbackHardwareType: UInt16 = 772
    /// `DEVTYPE=` values (`/sys/class/net/NAME/uevent`) of dial-up style devices.
    public static let dialupDeviceTypes: Set<String> = ["wwan", "ppp"]

    /// The kind of the interface `name` with kernel link type `hardwareType` and device type
    /// `deviceType` (either `nil` when unknown), and why.
    public func classify(
        name: String,
        hardwareType: UInt16?,
        deviceType: String?,
        isLoopback: Bool = false
    ) -> (kind: InterfaceKind, reason: String) {
        if isLoopback || hardwareType == Self.loopbackHardwareType {
            return (.loopback, "loopback")
        }
        if let pattern = dialupPatterns.first(where: { ShellPattern.matches($0, name) }) {
            return (.remoteAccess, "dialup_interfaces pattern '\(pattern)'")
        }
        if let hardwareType, Self.dialupHardwareTypes.contains(hardwareType) {
            return (.remoteAccess, "kernel link type \(hardwareType)")
        }
        if let deviceType, Self.dialupDeviceTypes.contains(deviceType) {
            return (.remoteAccess, "device type \(deviceType)")
        }
        if let hardwareType {
            return (.lan, "kernel link type \(hardwareType)")
        }
        return (.lan, "not a dial-up interface")
    }
}

/// Shell (`fnmatch`) patterns without flags: `*` any run of characters, `?` one character, `[abc]`,
/// `[a-z]` and `[!a-z]` one character of (or not of) a set, `\` quotes the next character.
public enum ShellPattern {
    /// Whether `pattern` matches the whole of `text`.
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.unicodeScalars)
        let t = Array(text.unicodeScalars)
        // Iterative matching with one backtrack point for the last `*` (linear for these patterns).
        var pi = 0
        var ti = 0
        var star: (pattern: Int, text: Int)?
        while ti < t.count {
            if pi < p.count, p[pi] == "*" {
                star = (pi, ti)
                pi += 1
                continue
            }
            if pi < p.count, let next = single(p, pi, t[ti]) {
                pi = next
                ti += 1
                continue
            }
            guard let backtrack = star else { return false }
            pi = backtrack.pattern + 1
            ti = backtrack.text + 1
            star = (backtrack.pattern, backtrack.text + 1)
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// Whether the pattern element at `index` matches `character`: the index after it, or `nil`.
    private static func single(_ p: [Unicode.Scalar], _ index: Int, _ character: Unicode.Scalar) -> Int? {
        switch p[index] {
        case "?":
            return index + 1
        case "\\" where index + 1 < p.count:
            return p[index + 1] == character ? index + 2 : nil
        case "[":
            guard let (matched, end) = bracket(p, index, character) else {
                return character == "[" ? index + 1 : nil
            }
            return matched ? end : nil
        default:
            return p[index] == character ? index + 1 : nil
        }
    }

    /// A `[...]` set at `index`: whether it holds `character` and the index after it; `nil` when the
    /// bracket is not closed (then it is an ordinary `[`).
    private static func bracket(_ p: [Unicode.Scalar], _ index: Int, _ character: Unicode.Scalar) -> (Bool, Int)? {
        var i = index + 1
        var negated = false
        if i < p.count, p[i] == "!" || p[i] == "^" {
            negated = true
            i += 1
        }
        var found = false
        var first = true
        while i < p.count {
            if p[i] == "]" && !first { return (found != negated, i + 1) }
            first = false
            var low = p[i]
            if low == "\\", i + 1 < p.count {
                i += 1
                low = p[i]
            }
            if i + 2 < p.count, p[i + 1] == "-", p[i + 2] != "]" {
                let high = p[i + 2]
                if low <= character && character <= high { found = true }
                i += 3
            } else {
                if low == character { found = true }
                i += 1
            }
        }
        return nil
    }
}
