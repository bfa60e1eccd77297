/// One entry of a directory dump (LDIF or DSMLv2): its distinguished name and attributes, with the
/// line it was read from so that later errors can point back into the file.
///
/// Attribute names compare without regard to letter case, as LDAP does; values keep their order.
public struct DirectoryEntry: Hashable, Sendable {
    /// The distinguished name exactly as the file spells it.
    public var dn: String
    public var attributes: [DirectoryAttribute]
    /// 1-based line of the entry's `dn:` line (LDIF) or `searchResultEntry` element (DSML); 0 when the
    /// entry was built in memory.
    public var line: Int

    public init(dn: String, attributes: [DirectoryAttribute] = [], line: Int = 0) {
        self.dn = dn
        self.attributes = attributes
        self.line = line
    }

    /// The attribute named `name` (any letter case), if present.
    public func attribute(_ name: String) -> DirectoryAttribute? {
        let key = name.lowercased()
        return attributes.first { $0.name.lowercased() == key }
    }

    /// All values of `name`, empty when the attribute is absent.
    public func values(_ name: String) -> [DirectoryValue] { attribute(name)?.values ?? [] }

    /// The values of `name` that are text; binary values that are valid UTF-8 count as text.
    public func strings(_ name: String) -> [String] { values(name).compactMap(\.text) }

    /// The first value of `name` as text.
    public func string(_ name: String) -> String? { strings(name).first }

    /// `objectClass` values, lower-cased.
    public var objectClasses: [String] { strings("objectClass").map { $0.lowercased() } }

    /// Adds `value` to attribute `name`, creating the attribute if needed (case-insensitive match).
    public mutating func append(_ name: String, _ value: DirectoryValue, line: Int = 0) {
        let key = name.lowercased()
        if let index = attributes.firstIndex(where: { $0.name.lowercased() == key }) {
            attributes[index].values.append(value)
        } else {
            attributes.append(DirectoryAttribute(name: name, values: [value], line: line))
        }
    }
}

/// One attribute of a ``DirectoryEntry`` and its values.
public struct DirectoryAttribute: Hashable, Sendable {
    /// The attribute type as written, without options (`ipsecData;binary` is `ipsecData`).
    public var name: String
    public var values: [DirectoryValue]
    /// 1-based line of the attribute's first value; 0 when built in memory.
    public var line: Int

    public init(name: String, values: [DirectoryValue], line: Int = 0) {
        self.name = name
        self.values = values
        self.line = line
    }
}

/// An attribute value: text, or bytes that were base64-encoded in the file.
public enum DirectoryValue: Hashable, Sendable {
    case text(String)
    case binary([UInt8])

    /// The value as bytes (text as UTF-8).
    public var bytes: [UInt8] {
        switch self {
        case .text(let text): Array(text.utf8)
        case .binary(let bytes): bytes
        }
    }

    /// The value as text: LDIF base64-encodes any text with non-ASCII characters, so binary values
    /// that are valid UTF-8 read as text too.
    public var text: String? {
        switch self {
        case .text(let text): text
        case .binary(let bytes): String(validating: bytes, as: UTF8.self)
        }
    }
}
