/// The document being read: its name for messages and its bytes, to find columns on error.
struct NativeXMLSource {
    let file: String
    let bytes: UnsafeBufferPointer<UInt8>

    /// An error at `line`, with the column of `element`'s start tag (or of `attribute` inside it)
    /// when that tag starts on this line.
    func error(
        line: Int?,
        column: Int? = nil,
        element: String? = nil,
        attribute: String? = nil,
        _ message: String
    )
        -> PolicyFormatError
    {
        var column = column
        if column == nil, let line, let element {
            column = self.column(line: line, element: element, attribute: attribute)
        }
        return PolicyFormatError(file: file, line: line, column: column, message: message)
    }

    /// 1-based byte column of `<element` (any prefix) or of ` attribute=` after it on `line`.
    func column(line: Int, element: String, attribute: String?) -> Int? {
        guard line >= 1 else { return nil }
        var start = 0
        var seen = 1
        while seen < line {
            guard let newline = bytes[start...].firstIndex(of: 0x0A) else { return nil }
            start = newline + 1
            seen += 1
        }
        let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
        let text = Array(bytes[start..<end])
        guard let tag = find(element, in: text, from: 0, openTag: true) else { return nil }
        guard let attribute else { return tag + 1 }
        return find(attribute, in: text, from: tag, openTag: false).map { $0 + 1 } ?? tag + 1
    }

    /// Position of `<name` / `<prefix:name` (open tag) or ` name=` (attribute), whole names only.
    private func find(_ name: String, in text: [UInt8], from: Int, openTag: Bool) -> Int? {
        let needle = Array(name.utf8)
        guard !needle.isEmpty, text.count >= needle.count else { return nil }
        var index = from
        while index + needle.count <= text.count {
            if text[index..<index + needle.count].elementsEqual(needle) {
                let before = index > 0 ? text[index - 1] : 0
                let after = index + needle.count < text.count ? text[index + needle.count] : 0
                if openTag {
                    let afterOK = after == 0 || after == 0x20 || after == 0x09 || after == 0x2F || after == 0x3E
                    if afterOK, before == UInt8(ascii: "<") { return index - 1 }
                    if afterOK, before == UInt8(ascii: ":"), let lt = text[..<index].lastIndex(of: UInt8(ascii: "<")),
                        !text[lt..<index].contains(0x20)
                    {
                        return lt
                    }
                } else if before == 0x20 || before == 0x09, after == UInt8(ascii: "=") || after == 0x20 {
                    return index
                }
            }
            index += 1
        }
        return nil
    }
}
