/// LDIF (RFC 2849) content files, as `ldifde -f` and `ldapsearch` write them, read into entries.
///
/// Accepted: the `version: 1` line, comments, folded lines (continuations start with one space),
/// `::` base64 values, attribute options (`ipsecData;binary`), CR LF or LF line ends, UTF-8 or UTF-16LE
/// with a byte-order mark (`ldifde -u`), `changetype: add`, and the `search:`/`result:` trailer of
/// plain `ldapsearch` output. Refused with a message: `:<` URL values (the file would have to be
/// fetched), change records other than add, and physical lines longer than ``maximumLineLength``
/// (RFC 2849 asks writers to fold; a longer line is a sign of a damaged or hostile file).
public enum LDIF {
    /// The longest physical line accepted, in characters.
    public static let maximumLineLength = 65_536

    /// Reads every entry of an LDIF file; all or nothing.
    /// - Parameters:
    ///   - bytes: the file's contents.
    ///   - file: the name used in error messages.
    /// - Throws: ``PolicyFormatError`` with the line (and column where useful) and the attribute.
    public static func entries(_ bytes: [UInt8], file: String) throws(PolicyFormatError) -> [DirectoryEntry] {
        let (text, _) = try TextDecoding.decode(bytes, file: file)
        let logical = try logicalLines(TextDecoding.lines(text), file: file)
        var records: [[LogicalLine]] = [[]]
        for line in logical {
            if line.text.isEmpty {
                if !records[records.count - 1].isEmpty { records.append([]) }
            } else {
                records[records.count - 1].append(line)
            }
        }
        var entries: [DirectoryEntry] = []
        for (index, var record) in records.enumerated() where !record.isEmpty {
            if index == 0, let first = record.first, first.text.lowercased().hasPrefix("version:") {
                let version = first.text.dropFirst("version:".count).directoryTrimmingSpaces
                guard version == "1" else {
                    throw PolicyFormatError(
                        file: file,
                        line: first.number,
                        field: "version",
                        message: "LDIF version \(version) is not supported (only version 1)"
                    )
                }
                record.removeFirst()
                if record.isEmpty { continue }
            }
            if let entry = try entry(record, file: file) { entries.append(entry) }
        }
        return entries
    }

    /// A line after unfolding, with the number of its first physical line.
    struct LogicalLine {
        var text: String
        var number: Int
    }

    /// Unfolds continuation lines and drops comments (with their own continuations).
    private static func logicalLines(_ lines: [String], file: String) throws(PolicyFormatError) -> [LogicalLine] {
        var result: [LogicalLine] = []
        var inComment = false
        for (index, line) in lines.enumerated() {
            let number = index + 1
            guard line.unicodeScalars.count <= maximumLineLength else {
                throw PolicyFormatError(
                    file: file,
                    line: number,
                    message:
                        "line is \(line.unicodeScalars.count) characters long; lines longer than \(maximumLineLength) must be folded (RFC 2849)"
                )
            }
            if line.unicodeScalars.first == " " {
                if inComment { continue }
                guard let last = result.indices.last, !result[last].text.isEmpty else {
                    throw PolicyFormatError(
                        file: file,
                        line: number,
                        column: 1,
                        message: "continuation line (starting with a space) does not follow a line it could continue"
                    )
                }
                result[last].text += line.dropFirst()
                continue
            }
            inComment = line.unicodeScalars.first == "#"
            if inComment { continue }
            result.append(LogicalLine(text: line, number: number))
        }
        return result
    }

    /// One record: a content entry, or `nil` for the `ldapsearch` trailer.
    private static func entry(_ record: [LogicalLine], file: String) throws(PolicyFormatError) -> DirectoryEntry? {
        let first = record[0]
        let (firstName, firstValue) = try attributeLine(first, file: file)
        if ["search", "result"].contains(firstName.lowercased()) {
            // Plain `ldapsearch` ends with a `search: N` / `result: 0 Success` pseudo-record.
            return nil
        }
        guard firstName.lowercased() == "dn", let dn = firstValue.text else {
            throw PolicyFormatError(
                file: file,
                line: first.number,
                field: firstName,
                message: "an LDIF record must start with 'dn:'"
            )
        }
        var entry = DirectoryEntry(dn: dn, line: first.number)
        for line in record.dropFirst() {
            let (name, value) = try attributeLine(line, file: file, dn: dn)
            switch name.lowercased() {
            case "changetype":
                let kind = value.text?.lowercased() ?? ""
                guard kind == "add" else {
                    throw PolicyFormatError(
                        file: file,
                        line: line.number,
                        object: dn,
                        field: "changetype",
                        message:
                            "change records ('changetype: \(kind)') are not a directory dump; export the entries with ldifde -f or ldapsearch instead"
                    )
                }
            case "control":
                throw PolicyFormatError(
                    file: file,
                    line: line.number,
                    object: dn,
                    field: "control",
                    message: "LDAP controls belong to change records, which are not a directory dump"
                )
            default:
                entry.append(name, value, line: line.number)
            }
        }
        return entry
    }

    /// Splits `name: value`, `name:: base64` and refuses `name:< url`; `dn` names the entry in errors.
    private static func attributeLine(
        _ line: LogicalLine,
        file: String,
        dn: String? = nil
    ) throws(PolicyFormatError) -> (
        String, DirectoryValue
    ) {
        let scalars = Array(line.text.unicodeScalars)
        guard let colon = scalars.firstIndex(of: ":") else {
            throw PolicyFormatError(
                file: file,
                line: line.number,
                object: dn,
                message:
                    "expected 'attribute: value', found no ':' (a line longer than the rest may have lost its fold)"
            )
        }
        let description = String(String.UnicodeScalarView(scalars[..<colon]))
        let name = description.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard !name.isEmpty, name.unicodeScalars.allSatisfy({ $0.properties.isASCIIHexDigit || isNameScalar($0) })
        else {
            throw PolicyFormatError(
                file: file,
                line: line.number,
                column: 1,
                object: dn,
                message: "'\(description)' is not an attribute name"
            )
        }
        var rest = scalars[(colon + 1)...]
        switch rest.first {
        case ":":
            rest = rest.dropFirst().drop { $0 == " " }
            let text = String(String.UnicodeScalarView(rest))
            do {
                return (String(name), .binary(try Base64.decode(text)))
            } catch {
                throw PolicyFormatError(
                    file: file,
                    line: line.number,
                    object: dn,
                    field: String(name),
                    message: "bad base64 value: \(error.message) at character \(error.position + 1) of the value"
                )
            }
        case "<":
            throw PolicyFormatError(
                file: file,
                line: line.number,
                object: dn,
                field: String(name),
                message:
                    "values given by URL (':<') are not read; export the entries with their values inline (ldifde -f, ldapsearch -LLL)"
            )
        default:
            rest = rest.drop { $0 == " " }
            return (String(name), .text(String(String.UnicodeScalarView(rest))))
        }
    }

    private static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII
            && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-" || scalar == ".")
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    var directoryTrimmingSpaces: String {
        let scalars = unicodeScalars.drop { $0 == " " || $0 == "\t" }
        var view = String.UnicodeScalarView(scalars)
        while view.last == " " || view.last == "\t" { view.removeLast() }
        return String(view)
    }
}
