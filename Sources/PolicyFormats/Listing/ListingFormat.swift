public import PolicyModel

/// Small formatting helpers for human-readable policy output, shared by `policy show` and the
/// `netsh ipsec static show` commands. Values are spelled the way netsh spells them (`YES`, `ANY`,
/// `3DES-SHA1-2`, `ESP[3DES,SHA1]`), so that output and netsh input use one vocabulary.
public enum ListingFormat {
    /// Column of the `:` in ``field(_:_:indent:)`` lines, counted from the line start.
    public static let labelWidth = 28

    /// `Label                 : value`, the label padded so that colons line up at any indent; no
    /// trailing space when the value is empty.
    public static func field(_ label: String, _ value: String, indent: Int = 0) -> String {
        let padded =
            label.count + indent < labelWidth
            ? label + String(repeating: " ", count: labelWidth - indent - label.count) : label + " "
        let line = String(repeating: " ", count: indent) + padded + ":"
        return value.isEmpty ? line : line + " " + value
    }

    public static func yesNo(_ value: Bool) -> String { value ? "YES" : "NO" }

    /// A quoted name, or `<unnamed>` for objects Windows stores without one.
    public static func name(_ name: String) -> String { name.isEmpty ? "<unnamed>" : "\"\(name)\"" }

    /// A duration that netsh gives in minutes: `480 minutes`, or seconds when not whole minutes.
    /// - Parameter defaultSeconds: what 0 stands for in Windows data.
    public static func minutes(seconds: UInt32, defaultSeconds: UInt32) -> String {
        let effective = seconds == 0 ? defaultSeconds : seconds
        let text = effective % 60 == 0 ? "\(effective / 60) minutes" : "\(effective) seconds"
        return seconds == 0 ? text + " (default)" : text
    }

    /// `0 (unlimited)` or the number, for quick-mode limits.
    public static func quickModeLimit(_ limit: UInt32) -> String { limit == 0 ? "0 (unlimited)" : String(limit) }

    /// One side of a filter as netsh shows it: `<My IP Address>`, `<Any IP Address>`, an address, a
    /// DNS name with its resolved address, or a special server type.
    public static func address(_ address: FilterAddress) -> String {
        switch address {
        case .me: "<My IP Address>"
        case .any: "<Any IP Address>"
        case .host(let host): host.description
        case .subnet(let network, _): network.description
        case .dnsName(let name, let resolved): "\(name) (\(resolved))"
        case .server(let server): "<\(server.rawValue) Servers>"
        }
    }

    /// The mask that goes with ``address(_:)``.
    public static func mask(_ address: FilterAddress) -> String {
        switch address {
        case .any: IPv4Address.any.description
        case .subnet(_, let mask): mask.description
        case .me, .host, .dnsName, .server: IPv4Address.broadcast.description
        }
    }

    /// `ANY`, `TCP`, `17`…
    public static func ipProtocol(_ number: UInt8) -> String { IPProtocol.name(number) }

    /// `ANY` for port 0, else the number.
    public static func port(_ port: UInt16) -> String { port == 0 ? "ANY" : String(port) }

    /// netsh `mmsecmethods` syntax: `3DES-SHA1-2`.
    public static func mainModeMethod(_ method: MainModeSecurityMethod) -> String {
        "\(method.encryption.rawValue)-\(method.hash.rawValue)-\(method.group.netshNumber)"
    }

    /// netsh `qmsecmethods` syntax: `AH[SHA1]+ESP[3DES,None]`, with `:100000k/3600s` when a lifetime
    /// is set.
    public static func offer(_ offer: SecurityOffer) -> String {
        let bundle = offer.transforms.map(transform).joined(separator: "+")
        guard offer.lifetimeKilobytes != 0 || offer.lifetimeSeconds != 0 else { return bundle }
        return bundle + ":\(offer.lifetimeKilobytes)k/\(offer.lifetimeSeconds)s"
    }

    /// `AH[MD5]` or `ESP[DES,SHA1]` (`None` for a missing algorithm).
    public static func transform(_ transform: Transform) -> String {
        switch transform {
        case .ah(let hash): "AH[\(hash.rawValue)]"
        case .esp(let encryption, let integrity): "ESP[\(encryption.rawValue),\(integrity?.rawValue ?? "None")]"
        }
    }

    /// `NEGOTIATE SECURITY`, `PERMIT` or `BLOCK`, as netsh's "Action" column.
    public static func action(_ kind: FilterActionKind) -> String {
        switch kind {
        case .permit: "PERMIT"
        case .block: "BLOCK"
        case .negotiate: "NEGOTIATE SECURITY"
        }
    }

    /// One authentication method. Pre-shared keys are shown, as netsh shows them: the file holds them
    /// in clear text anyway.
    public static func authentication(_ method: AuthenticationMethod) -> String {
        switch method {
        case .kerberos:
            return "Kerberos"
        case .preSharedKey(let key):
            return "Preshared key \"\(key)\""
        case .certificate(let authority):
            var options: [String] = []
            if authority.certificateToAccountMapping { options.append("certmap") }
            if authority.excludeCAName { options.append("excludecaname") }
            let suffix = options.isEmpty ? "" : " (" + options.joined(separator: ", ") + ")"
            return "Root CA \"\(authority.name)\"" + suffix
        }
    }

    /// `ALL`, `LAN` or `DIALUP` (netsh `conntype`).
    public static func connectionType(_ type: InterfaceType) -> String { type.rawValue.uppercased() }

    /// `whenChanged` (seconds since 1970, UTC) as `2026-11-29 12:00:00 UTC`.
    public static func timestamp(_ seconds: Int64) -> String {
        let time = CivilTime(seconds: seconds)
        return "\(time.year)-\(twoDigits(time.month))-\(twoDigits(time.day)) \(twoDigits(time.hour)):"
            + "\(twoDigits(time.minute)):\(twoDigits(time.second)) UTC"
    }

    private static func twoDigits(_ value: Int64) -> String { value < 10 ? "0\(value)" : String(value) }
}
