import PolicyModel

/// One directory object as a snapshot holds it: a DN and multi-valued attributes.
///
/// This is the small abstraction the group-policy resolution works on; the LDIF and DSMLv2 readers
/// (PolicyFormats) produce entries that convert to it, and tests build trees in code.
public struct DirectoryEntry: Hashable, Sendable {
    public var dn: String
    /// Attribute values by lower-cased attribute name.
    public var attributes: [String: [String]]

    public init(dn: String, attributes: [String: [String]] = [:]) {
        self.dn = dn
        var lowered: [String: [String]] = [:]
        for (key, values) in attributes { lowered[key.lowercased(), default: []].append(contentsOf: values) }
        self.attributes = lowered
    }

    /// All values of an attribute (any letter case).
    public func values(_ name: String) -> [String] { attributes[name.lowercased()] ?? [] }
    /// The first value of an attribute.
    public func value(_ name: String) -> String? { values(name).first }
    /// Whether `objectClass` lists `objectClass` (any letter case).
    public func isA(_ objectClass: String) -> Bool {
        values("objectClass").contains { $0.caseInsensitiveEquals(objectClass) }
    }
}

/// A directory snapshot indexed by normalised DN.
public struct DirectoryTree: Sendable {
    public let entries: [DirectoryEntry]
    private let index: [String: Int]

    public init(entries: [DirectoryEntry]) {
        self.entries = entries
        var index: [String: Int] = [:]
        index.reserveCapacity(entries.count)
        for (position, entry) in entries.enumerated() { index[DN.normalize(entry.dn)] = position }
        self.index = index
    }

    /// The entry with this DN (compared case-insensitively, spaces around separators ignored).
    public func entry(_ dn: String) -> DirectoryEntry? {
        index[DN.normalize(dn)].map { entries[$0] }
    }
}

/// Distinguished-name helpers: just enough of RFC 4514 for directory snapshots (escaped commas kept).
public enum DN {
    /// The RDNs of a DN, leaf first, as written (`["CN=PC1", "OU=Sales", "DC=example", "DC=test"]`).
    public static func components(_ dn: String) -> [String] {
        var result: [String] = []
        var current = ""
        var escaping = false
        for character in dn {
            if escaping {
                current.append(character)
                escaping = false
            } else if character == "\\" {
                current.append(character)
                escaping = true
            } else if character == "," {
                result.append(trim(current))
                current = ""
            } else {
                current.append(character)
            }
        }
        if !trim(current).isEmpty { result.append(trim(current)) }
        return result
    }

    /// A comparable form: lower case, no spaces around `,` and `=`, no `LDAP://` prefix.
    public static func normalize(_ dn: String) -> String {
        var text = Substring(dn)
        if text.lowercased().hasPrefix("ldap://") { text = text.dropFirst(7) }
        return components(String(text)).map { rdn in
            guard let equals = rdn.firstIndex(of: "=") else { return rdn.lowercased() }
            return trim(String(rdn[..<equals])).lowercased() + "="
                + trim(String(rdn[rdn.index(after: equals)...]))
                .lowercased()
        }.joined(separator: ",")
    }

    /// The parent DN, or `nil` for a single RDN.
    public static func parent(_ dn: String) -> String? {
        let parts = components(dn)
        guard parts.count > 1 else { return nil }
        return parts.dropFirst().joined(separator: ",")
    }

    /// The attribute type of the first RDN, lower case (`ou`, `cn`, `dc`).
    public static func leafType(_ dn: String) -> String? {
        guard let first = components(dn).first, let equals = first.firstIndex(of: "=") else { return nil }
        return trim(String(first[..<equals])).lowercased()
    }

    /// The value of the first RDN (`{GUID}` of a GPO container).
    public static func leafValue(_ dn: String) -> String? {
        guard let first = components(dn).first, let equals = first.firstIndex(of: "=") else { return nil }
        return trim(String(first[first.index(after: equals)...]))
    }

    /// The domain part of a DN: its trailing `DC=` components.
    public static func domain(of dn: String) -> String? {
        let tail = components(dn).reversed().prefix { $0.lowercased().hasPrefix("dc=") }
        guard !tail.isEmpty else { return nil }
        return tail.reversed().joined(separator: ",")
    }

    private static func trim(_ text: String) -> String {
        var slice = Substring(text)
        while slice.first == " " { slice = slice.dropFirst() }
        while slice.last == " " { slice = slice.dropLast() }
        return String(slice)
    }
}
