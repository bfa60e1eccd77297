public import PolicyModel

/// One link of a `gPLink` attribute (on a site, domain or OU): the GPO it links and the link options.
///
/// `gPLink` is a string of `[LDAP://<GPO DN>;<options>]` items. Options are a bit set: bit 0
/// (`GPO_FLAG_DISABLE`) disables the link, bit 1 (`GPO_FLAG_FORCE`) enforces it ("No Override").
/// Items are stored lowest precedence first: the last item is link order 1, the link that wins among
/// the links of the same container ([MS-GPOL] §2.2.2; GPMC shows link order 1 for the item that is
/// last in the string).
public struct GroupPolicyLink: Hashable, Sendable {
    /// The linked GPO's DN (without the `LDAP://` prefix), as written.
    public var gpoDN: String
    /// The GPO's GUID, taken from the DN's first component (`cn={GUID}`), if it has that form.
    public var gpoID: IPsecGUID?
    /// The raw option bits.
    public var options: UInt32
    /// Link order as GPMC shows it: 1 is the highest precedence among this container's links.
    public var linkOrder: Int

    public init(gpoDN: String, gpoID: IPsecGUID?, options: UInt32, linkOrder: Int) {
        self.gpoDN = gpoDN
        self.gpoID = gpoID
        self.options = options
        self.linkOrder = linkOrder
    }

    /// Bit 0: the link is disabled and the GPO does not apply through it.
    public var isDisabled: Bool { options & 1 != 0 }
    /// Bit 1: enforced ("No Override"): applies even below a container that blocks inheritance, and wins
    /// over links of containers below.
    public var isEnforced: Bool { options & 2 != 0 }

    /// Parses a `gPLink` value into its links in stored order (lowest precedence first).
    /// - Parameter location: names the container (DN) in errors.
    /// - Throws: ``PolicyFormatError`` naming the attribute and the character position.
    public static func parse(
        _ text: String,
        file: String,
        location: String? = nil,
        line: Int? = nil
    ) throws(PolicyFormatError) -> [GroupPolicyLink] {
        var items: [(dn: String, options: UInt32)] = []
        var rest = Substring(text)
        func fail(_ message: String) -> PolicyFormatError {
            PolicyFormatError(
                file: file,
                line: line,
                column: text.count - rest.count + 1,
                object: location,
                field: "gPLink",
                message: message
            )
        }
        while true {
            rest = rest.drop { $0 == " " }
            if rest.isEmpty { break }
            guard rest.first == "[", let close = rest.firstIndex(of: "]") else {
                throw fail("expected '[LDAP://<GPO DN>;<options>]'")
            }
            let item = rest[rest.index(after: rest.startIndex)..<close]
            guard let semicolon = item.lastIndex(of: ";"),
                let options = UInt32(item[item.index(after: semicolon)...].directoryTrimmingSpaces)
            else { throw fail("link '\(item)' has no ';<options>' number") }
            var path = item[..<semicolon]
            if path.lowercased().hasPrefix("ldap://") { path = path.dropFirst("ldap://".count) }
            guard DistinguishedName(String(path)) != nil else { throw fail("'\(path)' is not a distinguished name") }
            items.append((String(path), options))
            rest = rest[rest.index(after: close)...]
        }
        return items.enumerated().map { index, item in
            let first = DistinguishedName(item.dn)?.rdns.first?.value
            return GroupPolicyLink(
                gpoDN: item.dn,
                gpoID: first.flatMap { IPsecGUID($0) },
                options: item.options,
                linkOrder: items.count - index
            )
        }
    }

    /// Writes links back in `gPLink` form, in the given (stored) order.
    public static func format(_ links: [GroupPolicyLink]) -> String {
        links.map { "[LDAP://\($0.gpoDN);\($0.options)]" }.joined()
    }
}

/// `gPOptions` of a site, domain or OU: bit 0 (`GPC_BLOCK_POLICY`) blocks inheritance of GPOs linked
/// above, except enforced links.
public struct GroupPolicyOptions: Hashable, Sendable {
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public var blocksInheritance: Bool { rawValue & 1 != 0 }

    /// Parses the attribute's decimal text.
    public static func parse(
        _ text: String,
        file: String,
        location: String? = nil,
        line: Int? = nil
    ) throws(PolicyFormatError) -> GroupPolicyOptions {
        guard let value = UInt32(text.directoryTrimmingSpaces) else {
            throw PolicyFormatError(
                file: file,
                line: line,
                object: location,
                field: "gPOptions",
                message: "'\(text)' is not a number"
            )
        }
        return GroupPolicyOptions(rawValue: value)
    }
}
