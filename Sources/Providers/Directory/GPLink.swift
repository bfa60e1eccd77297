/// One link of a site, domain or OU to a GPO, from its `gPLink` attribute.
public struct GPLink: Hashable, Sendable {
    /// The GPO container's DN (`CN={GUID},CN=Policies,CN=System,DC=...`).
    public var gpoDN: String
    /// Link order as the Group Policy console shows it: 1 has the highest precedence in its container.
    public var order: Int
    /// Link option bit 0: the link is disabled.
    public var disabled: Bool
    /// Link option bit 1: enforced ("No Override"): wins over links below and ignores block inheritance.
    public var enforced: Bool

    public init(gpoDN: String, order: Int, disabled: Bool = false, enforced: Bool = false) {
        self.gpoDN = gpoDN
        self.order = order
        self.disabled = disabled
        self.enforced = enforced
    }

    /// Parses `[LDAP://cn={...},cn=policies,...;0][LDAP://...;2]`.
    ///
    /// The attribute lists links from the lowest precedence to the highest, so the last link in the text
    /// has link order 1. Malformed parts are skipped: a bad link never hides the good ones.
    public static func parse(_ text: String) -> [GPLink] {
        var parsed: [(String, Int)] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "["), let close = rest[open...].firstIndex(of: "]") {
            let body = rest[rest.index(after: open)..<close]
            rest = rest[rest.index(after: close)...]
            guard let semicolon = body.lastIndex(of: ";") else { continue }
            var dn = body[..<semicolon]
            if dn.lowercased().hasPrefix("ldap://") { dn = dn.dropFirst(7) }
            let options = Int(body[body.index(after: semicolon)...].filter { $0 != " " }) ?? 0
            guard !dn.isEmpty else { continue }
            parsed.append((String(dn), options))
        }
        let count = parsed.count
        return parsed.enumerated().map { position, link in
            GPLink(gpoDN: link.0, order: count - position, disabled: link.1 & 1 != 0, enforced: link.1 & 2 != 0)
        }
    }

    /// Writes links back in `gPLink` form (lowest precedence first); used by test fixtures.
    public static func format(_ links: [GPLink]) -> String {
        links.sorted { $0.order > $1.order }.map { link in
            "[LDAP://\(link.gpoDN);\((link.disabled ? 1 : 0) | (link.enforced ? 2 : 0))]"
        }.joined()
    }
}
