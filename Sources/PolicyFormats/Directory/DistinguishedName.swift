/// An LDAP distinguished name (RFC 4514) split into its relative names, for comparing and for finding
/// the `CN=<class>{GUID}` of an IPsec object or the `CN={GPO}` of a Group Policy object.
///
/// Multi-valued RDNs (`a=1+b=2`) are kept whole in ``RDN/value``; IPsec and GPO names never use them.
public struct DistinguishedName: Hashable, Sendable, CustomStringConvertible {
    /// One `type=value` component, value unescaped.
    public struct RDN: Hashable, Sendable {
        public var type: String
        public var value: String

        public init(type: String, value: String) {
            self.type = type
            self.value = value
        }
    }

    /// The components, most specific first (`CN=x,CN=System,DC=example` is `[CN=x, CN=System, DC=example]`).
    public var rdns: [RDN]

    public init(rdns: [RDN]) { self.rdns = rdns }

    /// Parses a DN string, honouring `\,` and `\2C` escapes and quoted values; `nil` when malformed.
    public init?(_ text: String) {
        var rdns: [RDN] = []
        var scalars = Array(text.unicodeScalars)[...]
        while !scalars.isEmpty {
            // Type: up to '='.
            guard let equals = scalars.firstIndex(of: "=") else { return nil }
            let type = String(String.UnicodeScalarView(scalars[scalars.startIndex..<equals])).directoryTrimmingSpaces
            guard !type.isEmpty else { return nil }
            scalars = scalars[(equals + 1)...]
            var value: [UInt8] = []
            var quoted = false
            var finished = false
            while let scalar = scalars.first, !finished {
                scalars = scalars.dropFirst()
                switch scalar {
                case "\"":
                    quoted.toggle()
                case "\\":
                    guard let next = scalars.first else { return nil }
                    if next.properties.isASCIIHexDigit, scalars.count >= 2,
                        scalars[scalars.startIndex + 1].properties.isASCIIHexDigit,
                        let byte = UInt8(String(String.UnicodeScalarView(scalars.prefix(2))), radix: 16)
                    {
                        value.append(byte)
                        scalars = scalars.dropFirst(2)
                    } else {
                        value += Array(String(next).utf8)
                        scalars = scalars.dropFirst()
                    }
                case "," where !quoted, ";" where !quoted:
                    finished = true
                default:
                    value += Array(String(scalar).utf8)
                }
            }
            guard !quoted, let decoded = String(validating: value, as: UTF8.self) else { return nil }
            rdns.append(RDN(type: type, value: decoded.directoryTrimmingSpaces))
            if finished, scalars.isEmpty { return nil }  // A trailing separator.
        }
        guard !rdns.isEmpty else { return nil }
        self.rdns = rdns
    }

    /// The DN in RFC 4514 form with the special characters of each value escaped.
    public var description: String {
        rdns.map { "\($0.type)=\(Self.escape($0.value))" }.joined(separator: ",")
    }

    /// Case-insensitive comparison form: types and values lower-cased, spaces around separators removed.
    public var normalized: String {
        rdns.map { "\($0.type.lowercased())=\($0.value.lowercased())" }.joined(separator: ",")
    }

    /// The DN without its first component, or `nil` for a one-component DN.
    public var parent: DistinguishedName? {
        rdns.count > 1 ? DistinguishedName(rdns: Array(rdns.dropFirst())) : nil
    }

    /// Whether `self` lies under (or is) `ancestor`, ignoring letter case.
    public func isWithin(_ ancestor: DistinguishedName) -> Bool {
        guard ancestor.rdns.count <= rdns.count else { return false }
        let tail = DistinguishedName(rdns: Array(rdns.suffix(ancestor.rdns.count)))
        return tail.normalized == ancestor.normalized
    }

    /// Escapes a value for a DN string (RFC 4514 §2.4).
    public static func escape(_ value: String) -> String {
        var out = ""
        let scalars = Array(value.unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            switch scalar {
            case ",", "+", "\"", "\\", "<", ">", ";", "=":
                out += "\\" + String(scalar)
            case "#" where index == 0, " " where index == 0 || index == scalars.count - 1:
                out += "\\" + String(scalar)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
