public import PolicyFormats
import PolicyModel

/// One directory object as a snapshot holds it: a DN and multi-valued text attributes.
///
/// This is the small abstraction the group-policy resolution works on; the LDIF and DSMLv2 readers
/// (PolicyFormats' ``DirectoryEntry``) convert to it, and tests build trees in code.
public struct DirectoryObject: Hashable, Sendable {
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
    public let entries: [DirectoryObject]
    /// The entries as the LDIF or DSML reader returned them (binary values included), for decoding the
    /// IPsec objects; empty for trees built in code.
    public let sourceEntries: [DirectoryEntry]
    /// The snapshot file, for error messages.
    public let file: String
    private let index: [String: Int]

    public init(entries: [DirectoryObject], sourceEntries: [DirectoryEntry] = [], file: String = "<memory>") {
        self.entries = entries
        self.sourceEntries = sourceEntries
        self.file = file
        var index: [String: Int] = [:]
        index.reserveCapacity(entries.count)
        for (position, entry) in entries.enumerated() { index[DN.normalize(entry.dn)] = position }
        self.index = index
    }

    /// The entry with this DN (compared case-insensitively, spaces around separators ignored).
    public func entry(_ dn: String) -> DirectoryObject? {
        index[DN.normalize(dn)].map { entries[$0] }
    }

    /// The reader's entry with this DN (binary values included), when the tree was read from entries.
    public func sourceEntry(_ dn: String) -> DirectoryEntry? {
        guard let position = index[DN.normalize(dn)], position < sourceEntries.count else { return nil }
        return sourceEntries[position]
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

    /// A comparable form: ASCII lower case, no spaces around `,` and `=`, no `LDAP://` prefix. Works on
    /// UTF-8 bytes because snapshots index thousands of DNs.
    public static func normalize(_ dn: String) -> String {
        var input = Array(dn.utf8)
        if input.count >= 7, String(decoding: input[0..<7], as: UTF8.self).lowercased() == "ldap://" {
            input.removeFirst(7)
        }
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var escaping = false
        var skippingSpaces = true
        for byte in input {
            if escaping {
                output.append(byte)
                escaping = false
                continue
            }
            switch byte {
            case UInt8(ascii: " ") where skippingSpaces:
                continue
            case UInt8(ascii: ","), UInt8(ascii: "="):
                while output.last == UInt8(ascii: " ") { output.removeLast() }
                output.append(byte)
                skippingSpaces = true
                continue
            case UInt8(ascii: "\\"):
                escaping = true
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                output.append(byte + 32)
                skippingSpaces = false
                continue
            default:
                break
            }
            output.append(byte)
            skippingSpaces = false
        }
        while output.last == UInt8(ascii: " ") { output.removeLast() }
        return String(decoding: output, as: UTF8.self)
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

extension DirectoryEntry {
    /// An entry with the object's text attributes (a tree built in code, written or read like a file's).
    public init(_ object: DirectoryObject) {
        self.init(
            dn: object.dn,
            attributes: object.attributes.keys.sorted().map { name in
                DirectoryAttribute(name: name, values: object.attributes[name, default: []].map { .text($0) })
            }
        )
    }
}

extension DirectoryObject {
    /// The text attributes of a reader's entry (binary values such as `ipsecData` are left out).
    public init(_ entry: DirectoryEntry) {
        var attributes: [String: [String]] = [:]
        for attribute in entry.attributes {
            let texts = attribute.values.compactMap(\.text)
            if !texts.isEmpty { attributes[attribute.name.lowercased(), default: []].append(contentsOf: texts) }
        }
        self.init(dn: entry.dn, attributes: attributes)
    }
}
