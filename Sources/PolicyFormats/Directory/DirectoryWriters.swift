extension LDIF {
    /// Lines are folded at this many characters, as `ldapsearch` and RFC 2849 suggest.
    static let foldWidth = 76

    /// Writes entries as an LDIF content file (`version: 1`, LF line ends, folded at 76 columns), which
    /// `ldapadd -f` loads. Values that are not safe LDIF strings are base64-encoded (`::`).
    public static func write(_ entries: [DirectoryEntry]) -> [UInt8] {
        var out = "version: 1\n"
        for entry in entries {
            out += "\n"
            out += line(name: "dn", value: .text(entry.dn))
            for attribute in entry.attributes {
                for value in attribute.values { out += line(name: attribute.name, value: value) }
            }
        }
        return Array(out.utf8)
    }

    private static func line(name: String, value: DirectoryValue) -> String {
        let text: String
        if case .text(let string) = value, isSafe(string) {
            text = "\(name): \(string)"
        } else {
            text = "\(name):: \(Base64.encode(value.bytes))"
        }
        return fold(text)
    }

    /// RFC 2849 SAFE-STRING: ASCII without NUL, CR, LF; not starting with space, ':' or '<'; we also
    /// base64 a trailing space, which some readers strip.
    private static func isSafe(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first else { return true }
        if first == " " || first == ":" || first == "<" || text.unicodeScalars.last == " " { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCII && $0 != "\0" && $0 != "\n" && $0 != "\r" }
    }

    private static func fold(_ line: String) -> String {
        let scalars = Array(line.unicodeScalars)
        guard scalars.count > foldWidth else { return line + "\n" }
        var out = String(String.UnicodeScalarView(scalars[0..<foldWidth])) + "\n"
        var index = foldWidth
        while index < scalars.count {
            let end = min(index + foldWidth - 1, scalars.count)
            out += " " + String(String.UnicodeScalarView(scalars[index..<end])) + "\n"
            index = end
        }
        return out
    }
}

extension DSML {
    /// Writes entries as a DSMLv2 `batchResponse` › `searchResponse` (what a DSML search of the IP
    /// Security container returns), binary values as `xsd:base64Binary`.
    public static func write(_ entries: [DirectoryEntry]) -> [UInt8] {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<batchResponse xmlns=\"\(namespace)\" xmlns:xsd=\"\(xmlSchemaNamespace)\""
        out += " xmlns:xsi=\"\(schemaInstanceNamespace)\">\n"
        out += "  <searchResponse>\n"
        for entry in entries {
            out += "    <searchResultEntry dn=\"\(escape(entry.dn))\">\n"
            for attribute in entry.attributes {
                out += "      <attr name=\"\(escape(attribute.name))\">\n"
                for value in attribute.values {
                    switch value {
                    case .text(let text) where !text.unicodeScalars.contains(where: isForbiddenInXML):
                        out += "        <value>\(escape(text))</value>\n"
                    default:
                        out += "        <value xsi:type=\"xsd:base64Binary\">\(Base64.encode(value.bytes))</value>\n"
                    }
                }
                out += "      </attr>\n"
            }
            out += "    </searchResultEntry>\n"
        }
        out += "    <searchResultDone>\n      <resultCode code=\"0\"/>\n    </searchResultDone>\n"
        out += "  </searchResponse>\n</batchResponse>\n"
        return Array(out.utf8)
    }

    /// Characters XML 1.0 cannot carry as text (controls other than tab, LF, CR).
    private static func isForbiddenInXML(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 && scalar != "\t" && scalar != "\n" && scalar != "\r"
    }

    private static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "\r": out += "&#13;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
