/// The syntax of `.reg` files, applied to an empty registry: the keys and values that remain.
///
/// Accepted: "Windows Registry Editor Version 5.00" (UTF-16LE with byte-order mark, or UTF-8) and
/// "REGEDIT4" (8-bit ANSI text); CR LF or LF; `;` comments; `[key]` and `[-key]` (deletes the key and
/// its subkeys); `"name"="text"` with `\\` and `\"` escapes, `@=` default values, `dword:`, `hex:`,
/// `hex(N):` (2 = REG_EXPAND_SZ, 7 = REG_MULTI_SZ, 4 = DWORD, b = QWORD, 1 = REG_SZ, others raw),
/// `"name"=-` (deletes the value); `hex` data continued over lines ending in `\`. Key paths and value
/// names compare without regard to letter case, as in the registry.
public enum RegFile {
    /// The first line of a version 5 file.
    public static let header5 = "Windows Registry Editor Version 5.00"
    /// The first line of a Windows NT 4 / 9x file.
    public static let header4 = "REGEDIT4"

    /// Reads a `.reg` file into the keys that exist after applying it, in first-created order.
    /// - Throws: ``PolicyFormatError`` with the line (and column), the key and value concerned.
    public static func keys(_ bytes: [UInt8], file: String) throws(PolicyFormatError) -> [RegistryKey] {
        let (text, _) = try TextDecoding.decode(bytes, file: file, eightBit: true)
        let lines = TextDecoding.lines(text)
        let header = lines.first?.directoryTrimmingSpaces ?? ""
        let unicode: Bool
        switch header {
        case header5: unicode = true
        case header4: unicode = false
        default:
            throw PolicyFormatError(
                file: file,
                line: 1,
                message:
                    "missing header: a .reg file starts with '\(header5)' or '\(header4)', found '\(header.prefix(40))'"
            )
        }
        var tree = Tree()
        var current: String?
        var index = 1
        while index < lines.count {
            let number = index + 1
            let line = lines[index]
            index += 1
            let trimmed = line.directoryTrimmingSpaces
            if trimmed.isEmpty || trimmed.unicodeScalars.first == ";" { continue }
            if trimmed.unicodeScalars.first == "[" {
                guard trimmed.unicodeScalars.last == "]" else {
                    throw PolicyFormatError(
                        file: file,
                        line: number,
                        message: "unterminated key line: '[' without a closing ']'"
                    )
                }
                // Scalar by scalar: a bracket may share a `Character` with a neighbouring mark.
                var path = String(String.UnicodeScalarView(trimmed.unicodeScalars.dropFirst().dropLast()))
                if path.unicodeScalars.first == "-" {
                    path = String(String.UnicodeScalarView(path.unicodeScalars.dropFirst()))
                    tree.deleteKey(path)
                    current = nil
                } else {
                    guard !path.isEmpty else {
                        throw PolicyFormatError(file: file, line: number, message: "empty key name '[]'")
                    }
                    tree.createKey(path, line: number)
                    current = path
                }
                continue
            }
            guard trimmed.unicodeScalars.first == "\"" || trimmed.unicodeScalars.first == "@" else {
                throw PolicyFormatError(
                    file: file,
                    line: number,
                    column: 1,
                    message: "expected a [key], a \"value\"=data line or a ; comment"
                )
            }
            guard let key = current else {
                throw PolicyFormatError(file: file, line: number, message: "a value line before any [key] line")
            }
            // Join `\`-continued lines; a continuation must be followed by another data line.
            var logical = trimmed
            while logical.unicodeScalars.last == "\\" {
                guard index < lines.count else {
                    throw PolicyFormatError(
                        file: file,
                        line: number,
                        object: key,
                        message: "broken continuation: the file ends after a line ending in '\\'"
                    )
                }
                let next = lines[index].directoryTrimmingSpaces
                if next.isEmpty || next.unicodeScalars.first == "[" || next.unicodeScalars.first == "\""
                    || next.unicodeScalars.first == "@"
                {
                    throw PolicyFormatError(
                        file: file,
                        line: index + 1,
                        object: key,
                        message: "broken continuation: a line ending in '\\' is not followed by more data"
                    )
                }
                logical = String(String.UnicodeScalarView(logical.unicodeScalars.dropLast())) + next
                index += 1
            }
            let (name, data) = try valueLine(logical, unicode: unicode, file: file, line: number, key: key)
            if let data {
                tree.setValue(key, RegistryValue(name: name, data: data, line: number))
            } else {
                tree.deleteValue(key, name)
            }
        }
        return tree.keys
    }

    /// Parses `"name"=data` or `@=data`; `nil` data means `=-` (delete the value).
    private static func valueLine(
        _ text: String,
        unicode: Bool,
        file: String,
        line: Int,
        key: String
    ) throws(PolicyFormatError) -> (String, RegistryData?) {
        var scalars = Substring(text).unicodeScalars[...]
        var name = ""
        if scalars.first == "@" {
            scalars = scalars.dropFirst()
        } else {
            guard let (parsed, rest) = quoted(scalars) else {
                throw PolicyFormatError(file: file, line: line, object: key, message: "value name has no closing quote")
            }
            name = parsed
            scalars = rest
        }
        scalars = scalars.drop { $0 == " " || $0 == "\t" }
        guard scalars.first == "=" else {
            throw PolicyFormatError(
                file: file,
                line: line,
                object: key,
                field: name,
                message: "expected '=' after the value name"
            )
        }
        let data = String(String.UnicodeScalarView(scalars.dropFirst())).directoryTrimmingSpaces
        func fail(_ message: String) -> PolicyFormatError {
            PolicyFormatError(file: file, line: line, object: key, field: name.isEmpty ? "@" : name, message: message)
        }
        if data == "-" { return (name, nil) }
        if data.unicodeScalars.first == "\"" {
            guard let (value, rest) = quoted(Substring(data).unicodeScalars[...]),
                String(String.UnicodeScalarView(rest)).directoryTrimmingSpaces.isEmpty
            else { throw fail("string value has no closing quote") }
            // A REG_SZ ends at its first NUL, as Windows reads it.
            return (name, .string(String(value.unicodeScalars.prefix { $0 != "\0" })))
        }
        let lower = data.lowercased()
        if lower.hasPrefix("dword:") {
            let digits = data.dropFirst("dword:".count)
            guard (1...8).contains(digits.count), let value = UInt32(digits, radix: 16) else {
                throw fail("'\(data)' is not dword:<1 to 8 hex digits>")
            }
            return (name, .dword(value))
        }
        guard lower.hasPrefix("hex"), let colon = data.firstIndex(of: ":") else {
            throw fail("unknown value data '\(data.prefix(20))' (expected \"text\", dword:, hex: or -)")
        }
        let typeText = data[data.index(data.startIndex, offsetBy: 3)..<colon]
        var type: UInt32 = 3
        if !typeText.isEmpty {
            guard typeText.hasPrefix("("), typeText.hasSuffix(")"),
                let parsed = UInt32(typeText.dropFirst().dropLast(), radix: 16)
            else { throw fail("'\(data.prefix(12))' is not hex: or hex(<type>):") }
            type = parsed
        }
        let bytes = try hexBytes(data[data.index(after: colon)...], fail: fail)
        return (name, try typed(type, bytes, unicode: unicode, fail: fail))
    }

    /// Reads a quoted string with `\\` and `\"` escapes; returns it and what follows the closing quote.
    private static func quoted(
        _ scalars: Substring.UnicodeScalarView.SubSequence
    ) -> (String, Substring.UnicodeScalarView.SubSequence)? {
        guard scalars.first == "\"" else { return nil }
        var rest = scalars.dropFirst()
        var out = String.UnicodeScalarView()
        while let scalar = rest.first {
            rest = rest.dropFirst()
            switch scalar {
            case "\\":
                guard let next = rest.first else { return nil }
                out.append(next)
                rest = rest.dropFirst()
            case "\"":
                return (String(out), rest)
            default:
                out.append(scalar)
            }
        }
        return nil
    }

    private static func hexBytes(
        _ text: Substring,
        fail: (String) -> PolicyFormatError
    ) throws(PolicyFormatError) -> [UInt8] {
        var bytes: [UInt8] = []
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        for (position, item) in items.enumerated() {
            let digits = item.directoryTrimmingSpaces
            if digits.isEmpty, position == items.count - 1 { break }  // Tolerate a trailing comma.
            guard digits.count == 2, let byte = UInt8(digits, radix: 16) else {
                throw fail("hex data item \(position + 1) ('\(digits.prefix(8))') is not two hex digits")
            }
            bytes.append(byte)
        }
        return bytes
    }

    private static func typed(
        _ type: UInt32,
        _ bytes: [UInt8],
        unicode: Bool,
        fail: (String) -> PolicyFormatError
    ) throws(PolicyFormatError) -> RegistryData {
        func strings() throws(PolicyFormatError) -> [String] {
            let text: String
            if unicode {
                guard bytes.count % 2 == 0 else {
                    throw fail(
                        "odd-length UTF-16 data (\(bytes.count) bytes) in a \(type == 7 ? "REG_MULTI_SZ" : "string") value"
                    )
                }
                guard let decoded = String(validating: UTF16LE.units(bytes), as: UTF16.self) else {
                    throw fail("the UTF-16 data contains an unpaired surrogate")
                }
                text = decoded
            } else {
                text = String(bytes.map { Character(UnicodeScalar($0)) })
            }
            var parts = text.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
            while parts.last == "" { parts.removeLast() }
            return parts
        }
        switch type {
        case 1: return .string(try strings().first ?? "")
        case 2: return .expandString(try strings().first ?? "")
        case 7: return .multiString(try strings())
        case 3: return .binary(bytes)
        case 4:
            guard bytes.count == 4 else { throw fail("a REG_DWORD holds 4 bytes, found \(bytes.count)") }
            return .dword(bytes.reversed().reduce(0) { $0 << 8 | UInt32($1) })
        case 0xb:
            guard bytes.count == 8 else { throw fail("a REG_QWORD holds 8 bytes, found \(bytes.count)") }
            return .qword(bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) })
        default: return .other(type: type, bytes)
        }
    }

    /// The registry as the file leaves it: keys by lower-cased path, in creation order.
    private struct Tree {
        private(set) var keys: [RegistryKey] = []
        private var index: [String: Int] = [:]

        mutating func createKey(_ path: String, line: Int) {
            // Creating a key creates its parents too, as regedit does; only the named key is recorded.
            if index[path.lowercased()] == nil {
                index[path.lowercased()] = keys.count
                keys.append(RegistryKey(path: path, line: line))
            }
        }

        mutating func deleteKey(_ path: String) {
            let prefix = path.lowercased()
            keys.removeAll { $0.path.lowercased() == prefix || $0.path.lowercased().hasPrefix(prefix + "\\") }
            index = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1.path.lowercased(), $0) })
        }

        mutating func setValue(_ path: String, _ value: RegistryValue) {
            guard let position = index[path.lowercased()] else { return }
            let name = value.name.lowercased()
            if let existing = keys[position].values.firstIndex(where: { $0.name.lowercased() == name }) {
                keys[position].values[existing] = value
            } else {
                keys[position].values.append(value)
            }
        }

        mutating func deleteValue(_ path: String, _ name: String) {
            guard let position = index[path.lowercased()] else { return }
            keys[position].values.removeAll { $0.name.lowercased() == name.lowercased() }
        }
    }
}
