/// Turns the bytes of a text file into a string the way Windows tools write them: UTF-16LE with a
/// byte-order mark (`regedit` 5.00, `ldifde -u`), or UTF-8 with or without one.
enum TextDecoding {
    /// How the text was encoded; kept so that errors can name byte offsets sensibly.
    enum Encoding: Sendable {
        case utf8
        case utf16LE
    }

    /// Decodes `bytes`, or throws naming the first bad byte.
    /// - Parameter eightBit: accept bytes that are not UTF-8 as Windows-1252-like Latin-1 (REGEDIT4 files
    ///   are written in the ANSI code page); otherwise such bytes are an error.
    static func decode(
        _ bytes: [UInt8],
        file: String,
        eightBit: Bool = false
    ) throws(PolicyFormatError) -> (
        String, Encoding
    ) {
        if bytes.starts(with: [0xFF, 0xFE]) {
            let body = bytes.dropFirst(2)
            guard body.count % 2 == 0 else {
                throw PolicyFormatError(
                    file: file,
                    byteOffset: bytes.count - 1,
                    message: "UTF-16 text has an odd number of bytes (\(bytes.count)); the file is truncated"
                )
            }
            guard let text = String(validating: UTF16LE.units(body), as: UTF16.self) else {
                throw PolicyFormatError(
                    file: file,
                    byteOffset: 2,
                    message: "UTF-16 text contains an unpaired surrogate"
                )
            }
            return (text, .utf16LE)
        }
        if bytes.starts(with: [0xFE, 0xFF]) {
            throw PolicyFormatError(
                file: file,
                byteOffset: 0,
                message: "big-endian UTF-16 is not a format Windows writes; save the file as UTF-16LE or UTF-8"
            )
        }
        let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
        if let text = String(validating: body, as: UTF8.self) { return (text, .utf8) }
        if eightBit { return (String(body.map { Character(UnicodeScalar($0)) }), .utf8) }
        let offset = firstInvalidUTF8(body) + (body.count == bytes.count ? 0 : 3)
        let line = bytes[..<offset].count { $0 == UInt8(ascii: "\n") } + 1
        throw PolicyFormatError(file: file, line: line, byteOffset: offset, message: "text is not valid UTF-8")
    }

    /// The offset of the first byte where UTF-8 decoding fails.
    private static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput, .error: return offset
            }
        }
    }

    /// Splits text into lines on LF, dropping one CR before each LF.
    ///
    /// Works on Unicode scalars because Swift treats CR LF as one `Character`.
    static func lines(_ text: String) -> [String] {
        text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            var scalars = String.UnicodeScalarView(line)
            if scalars.last == "\r" { scalars.removeLast() }
            return String(scalars)
        }
    }
}
