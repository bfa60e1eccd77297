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
    ///
    /// Linear in the size of the file: the text is scanned once as UTF-8 bytes (every character the
    /// syntax cares about is ASCII), continuation lines are appended to one buffer, and the registry
    /// tree is indexed (``RegFileTree``).
    /// - Throws: ``PolicyFormatError`` with the line (and column), the key and value concerned.
    public static func keys(_ bytes: [UInt8], file: String) throws(PolicyFormatError) -> [RegistryKey] {
        let (text, _) = try TextDecoding.decode(bytes, file: file, eightBit: true)
        var lines = RegLines(Array(text.utf8))
        let header = lines.next().map { lines.text($0) } ?? ""
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
        var tree = RegFileTree()
        var current: String?
        while let line = lines.next() {
            let number = lines.number
            guard let first = lines.first(line), first != UInt8(ascii: ";") else { continue }
            if first == UInt8(ascii: "[") {
                guard lines.last(line) == UInt8(ascii: "]") else {
                    throw PolicyFormatError(
                        file: file,
                        line: number,
                        message: "unterminated key line: '[' without a closing ']'"
                    )
                }
                let inner = (line.lowerBound + 1)..<(line.upperBound - 1)
                if lines.first(inner) == UInt8(ascii: "-") {
                    tree.deleteKey(lines.text((inner.lowerBound + 1)..<inner.upperBound))
                    current = nil
                } else {
                    guard !inner.isEmpty else {
                        throw PolicyFormatError(file: file, line: number, message: "empty key name '[]'")
                    }
                    let path = lines.text(inner)
                    tree.createKey(path, line: number)
                    current = path
                }
                continue
            }
            guard first == UInt8(ascii: "\"") || first == UInt8(ascii: "@") else {
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
            // Join `\`-continued lines into one buffer; a continuation must be followed by more data.
            var logical = Array(lines.bytes[line])
            while logical.last == UInt8(ascii: "\\") {
                guard let next = lines.next() else {
                    throw PolicyFormatError(
                        file: file,
                        line: number,
                        object: key,
                        message: "broken continuation: the file ends after a line ending in '\\'"
                    )
                }
                if let start = lines.first(next),
                    [UInt8(ascii: "["), UInt8(ascii: "\""), UInt8(ascii: "@")].contains(start)
                {
                    throw PolicyFormatError(
                        file: file,
                        line: lines.number,
                        object: key,
                        message: "broken continuation: a line ending in '\\' is not followed by more data"
                    )
                } else if next.isEmpty {
                    throw PolicyFormatError(
                        file: file,
                        line: lines.number,
                        object: key,
                        message: "broken continuation: a line ending in '\\' is not followed by more data"
                    )
                }
                logical.removeLast()
                logical.append(contentsOf: lines.bytes[next])
            }
            let (name, data) = try RegValueLine.parse(logical, unicode: unicode, file: file, line: number, key: key)
            if let data {
                tree.setValue(key, RegistryValue(name: name, data: data, line: number))
            } else {
                tree.deleteValue(key, name)
            }
        }
        return tree.keys
    }

    static func typed(
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
}
