public import PolicyModel

/// The five IPsec object classes ([MS-GPIPSEC] §2.2.1), named as in the directory schema and the registry.
public enum IPsecObjectClass: String, Hashable, Sendable, CaseIterable {
    case policy = "ipsecPolicy"
    case isakmp = "ipsecISAKMPPolicy"
    case nfa = "ipsecNFA"
    case negotiationPolicy = "ipsecNegotiationPolicy"
    case filter = "ipsecFilter"

    /// Parses a class name in any letter case.
    public init?(caseInsensitive name: some StringProtocol) {
        let key = name.lowercased()
        guard let match = Self.allCases.first(where: { $0.rawValue.lowercased() == key }) else { return nil }
        self = match
    }
}

/// An object's RDN or registry key name, `<class>{GUID}` (e.g. `ipsecNFA{116ca92d-…}`).
public struct WindowsObjectName: Hashable, Sendable, CustomStringConvertible {
    public var objectClass: IPsecObjectClass
    public var id: IPsecGUID

    public init(_ objectClass: IPsecObjectClass, _ id: IPsecGUID) {
        self.objectClass = objectClass
        self.id = id
    }

    /// Parses `<class>{GUID}` in any letter case; `nil` for anything else.
    public init?(_ text: some StringProtocol) {
        guard let brace = text.firstIndex(of: "{"),
            let objectClass = IPsecObjectClass(caseInsensitive: text[..<brace]),
            let id = IPsecGUID(text[brace...])
        else { return nil }
        self.init(objectClass, id)
    }

    /// The form Windows writes: class name as in the schema, GUID lower-case in braces.
    public var description: String { objectClass.rawValue + id.braced }
}
