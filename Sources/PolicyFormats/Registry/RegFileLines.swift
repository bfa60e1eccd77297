/// The lines of a `.reg` file as ranges of its UTF-8 bytes, each without its line end (LF, or CR LF)
/// and trimmed of spaces and tabs. Lines are split exactly where `TextDecoding.lines` splits them.
struct RegLines {
    let bytes: [UInt8]
    private var position = 0
    private var finished = false
    /// The 1-based number of the line ``next()`` returned last.
    private(set) var number = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The next line, trimmed; `nil` after the last one.
    mutating func next() -> Range<Int>? {
        guard !finished else { return nil }
        var end = position
        while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
        var line = position..<end
        if end < bytes.count {
            position = end + 1
        } else {
            finished = true
        }
        number += 1
        if line.upperBound > line.lowerBound, bytes[line.upperBound - 1] == UInt8(ascii: "\r") {
            line = line.lowerBound..<(line.upperBound - 1)
        }
        return RegBytes.trimmed(bytes, line)
    }

    func first(_ range: Range<Int>) -> UInt8? { range.isEmpty ? nil : bytes[range.lowerBound] }
    func last(_ range: Range<Int>) -> UInt8? { range.isEmpty ? nil : bytes[range.upperBound - 1] }
    func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
}

/// Byte helpers shared by the line scanner and the value parser.
enum RegBytes {
    static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    /// `range` without leading and trailing spaces and tabs.
    static func trimmed(_ bytes: [UInt8], _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, isBlank(bytes[lower]) { lower += 1 }
        while upper > lower, isBlank(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Whether `bytes[range]` starts with the ASCII `prefix`, ignoring letter case.
    static func hasPrefix(_ bytes: [UInt8], _ range: Range<Int>, _ prefix: String) -> Bool {
        let wanted = Array(prefix.utf8)
        guard range.count >= wanted.count else { return false }
        for (offset, byte) in wanted.enumerated() {
            let actual = bytes[range.lowerBound + offset]
            let lower = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(actual) ? actual + 32 : actual
            if lower != byte { return false }
        }
        return true
    }
}

/// One logical value line of a `.reg` file: `"name"=data` or `@=data`, continuation lines joined.
enum RegValueLine {
    /// The value name and its data; `nil` data means `=-` (delete the value).
    static func parse(
        _ bytes: [UInt8],
        unicode: Bool,
        file: String,
        line: Int,
        key: String
    ) throws(PolicyFormatError) -> (String, RegistryData?) {
        var position = 0
        var name = ""
        if bytes.first == UInt8(ascii: "@") {
            position = 1
        } else {
            guard let (parsed, rest) = quoted(bytes, 0..<bytes.count) else {
                throw PolicyFormatError(file: file, line: line, object: key, message: "value name has no closing quote")
            }
            name = parsed
            position = rest
        }
        while position < bytes.count, RegBytes.isBlank(bytes[position]) { position += 1 }
        guard position < bytes.count, bytes[position] == UInt8(ascii: "=") else {
            throw PolicyFormatError(
                file: file,
                line: line,
                object: key,
                field: name,
                message: "expected '=' after the value name"
            )
        }
        let data = RegBytes.trimmed(bytes, (position + 1)..<bytes.count)
        let dataText = String(decoding: bytes[data], as: UTF8.self)
        func fail(_ message: String) -> PolicyFormatError {
            PolicyFormatError(file: file, line: line, object: key, field: name.isEmpty ? "@" : name, message: message)
        }
        if data.count == 1, bytes[data.lowerBound] == UInt8(ascii: "-") { return (name, nil) }
        if bytes[data].first == UInt8(ascii: "\"") {
            guard let (value, rest) = quoted(bytes, data), RegBytes.trimmed(bytes, rest..<data.upperBound).isEmpty
            else { throw fail("string value has no closing quote") }
            // A REG_SZ ends at its first NUL, as Windows reads it.
            return (name, .string(String(value.unicodeScalars.prefix { $0 != "\0" })))
        }
        if RegBytes.hasPrefix(bytes, data, "dword:") {
            let digits = String(decoding: bytes[(data.lowerBound + 6)..<data.upperBound], as: UTF8.self)
            guard (1...8).contains(digits.count), let value = UInt32(digits, radix: 16) else {
                throw fail("'\(dataText)' is not dword:<1 to 8 hex digits>")
            }
            return (name, .dword(value))
        }
        guard RegBytes.hasPrefix(bytes, data, "hex"),
            let colon = bytes[data].firstIndex(of: UInt8(ascii: ":"))
        else { throw fail("unknown value data '\(dataText.prefix(20))' (expected \"text\", dword:, hex: or -)") }
        var type: UInt32 = 3
        let typeText = String(decoding: bytes[(data.lowerBound + 3)..<colon], as: UTF8.self)
        if !typeText.isEmpty {
            guard typeText.hasPrefix("("), typeText.hasSuffix(")"),
                let parsed = UInt32(typeText.dropFirst().dropLast(), radix: 16)
            else { throw fail("'\(dataText.prefix(12))' is not hex: or hex(<type>):") }
            type = parsed
        }
        let values = try hexBytes(bytes, (colon + 1)..<data.upperBound, fail: fail)
        return (name, try RegFile.typed(type, values, unicode: unicode, fail: fail))
    }

    /// A quoted string at the start of `range` with `\\` and `\"` escapes; returns it and the position
    /// after the closing quote. Byte by byte: the escaped character's UTF-8 continuation bytes are never
    /// a quote or a backslash, so they pass through unchanged.
    private static func quoted(_ bytes: [UInt8], _ range: Range<Int>) -> (String, Int)? {
        guard range.lowerBound < range.upperBound, bytes[range.lowerBound] == UInt8(ascii: "\"") else { return nil }
        var out: [UInt8] = []
        var position = range.lowerBound + 1
        while position < range.upperBound {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\\"):
                guard position < range.upperBound else { return nil }
                out.append(bytes[position])
                position += 1
            case UInt8(ascii: "\""):
                return (String(decoding: out, as: UTF8.self), position)
            default:
                out.append(byte)
            }
        }
        return nil
    }

    /// Comma-separated pairs of hex digits (spaces and tabs around each allowed, one trailing comma
    /// tolerated).
    private static func hexBytes(
        _ bytes: [UInt8],
        _ range: Range<Int>,
        fail: (String) -> PolicyFormatError
    ) throws(PolicyFormatError) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(range.count / 3 + 1)
        var start = range.lowerBound
        var item = 0
        while true {
            var end = start
            while end < range.upperBound, bytes[end] != UInt8(ascii: ",") { end += 1 }
            let digits = RegBytes.trimmed(bytes, start..<end)
            let isLast = end >= range.upperBound
            if digits.isEmpty, isLast { break }
            guard digits.count == 2, let high = RegBytes.hexValue(bytes[digits.lowerBound]),
                let low = RegBytes.hexValue(bytes[digits.lowerBound + 1])
            else {
                let shown = String(decoding: bytes[digits], as: UTF8.self).prefix(8)
                throw fail("hex data item \(item + 1) ('\(shown)') is not two hex digits")
            }
            result.append(high << 4 | low)
            item += 1
            if isLast { break }
            start = end + 1
        }
        return result
    }
}
