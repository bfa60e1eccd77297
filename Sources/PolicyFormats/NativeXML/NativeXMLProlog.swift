/// Checks the bytes before the root element, before libxml2 sees them.
///
/// A DOCTYPE is where entities (the "billion laughs" expansion bomb, external entities naming local
/// files) and external DTDs are declared; the format needs none of it, so any DOCTYPE is refused
/// outright rather than trusting parser options to defuse what it declares.
enum NativeXMLProlog {
    enum Problem: Equatable {
        case documentType(line: Int, column: Int)
        case notUTF8(encoding: String)
    }

    static func check(_ bytes: UnsafeBufferPointer<UInt8>) -> Problem? {
        var index = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        if bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE]) {
            return .notUTF8(encoding: "UTF-16")
        }
        // libxml2 guesses UTF-16, UTF-32 and EBCDIC from the first bytes whatever the caller asks for;
        // refuse them here, so that the scan below sees every byte as the parser will.
        if bytes.prefix(4).contains(0) { return .notUTF8(encoding: "UTF-16 or UTF-32") }
        if bytes.starts(with: [0x4C, 0x6F, 0xA7, 0x94]) { return .notUTF8(encoding: "EBCDIC") }
        while index < bytes.count {
            let c = bytes[index]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D {
                index += 1
            } else if matches(bytes, at: index, "<?") {
                guard let end = find(bytes, "?>", from: index + 2) else { return nil }
                index = end + 2
            } else if matches(bytes, at: index, "<!--") {
                guard let end = find(bytes, "-->", from: index + 4) else { return nil }
                index = end + 3
            } else if matches(bytes, at: index, "<!") {
                let (line, column) = position(of: index, in: bytes)
                return .documentType(line: line, column: column)
            } else {
                // The root element, or text the parser will reject with its own message.
                return nil
            }
        }
        return nil
    }

    private static func matches(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, _ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        return text.withUTF8Buffer { bytes[index..<index + count].elementsEqual($0) }
    }

    private static func find(_ bytes: UnsafeBufferPointer<UInt8>, _ text: StaticString, from: Int) -> Int? {
        var index = from
        while index < bytes.count {
            if matches(bytes, at: index, text) { return index }
            index += 1
        }
        return nil
    }

    private static func position(of offset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> (Int, Int) {
        var line = 1
        var lineStart = 0
        for index in 0..<offset where bytes[index] == 0x0A {
            line += 1
            lineStart = index + 1
        }
        return (line, offset - lineStart + 1)
    }
}
