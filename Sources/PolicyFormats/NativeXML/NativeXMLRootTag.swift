import IPsecSystem

extension NativePolicyXML {
    /// How many bytes of a store ``declaresAssignedPolicy(contentsOf:)`` reads: the root element's
    /// start tag comes first in every file the writer produces.
    static let headLength = 4096

    /// Whether the store at `path` names an assigned policy, from its root element's start tag alone
    /// (`<policyStore … assignedPolicy="…">`), without reading, validating or decoding the rest.
    ///
    /// For computer startup (`ipsecsvc boot`), which needs only to know whether a policy is assigned:
    /// a store the service wrote always loads, and the schema ties `assignedPolicy` to a policy of the
    /// store. `nil` when the head cannot tell (no such file, a DOCTYPE, not UTF-8, no complete
    /// `policyStore` start tag in the first ``headLength`` bytes, an empty value): the caller then
    /// reads the whole store.
    public static func declaresAssignedPolicy(contentsOf path: String) -> Bool? {
        guard let head = try? FileSystem.readPrefixIfPresent(path, count: headLength) else { return nil }
        return declaresAssignedPolicy(head: head)
    }

    /// ``declaresAssignedPolicy(contentsOf:)`` on the first bytes of a document.
    public static func declaresAssignedPolicy(head bytes: [UInt8]) -> Bool? {
        var scanner = RootTagScanner(bytes: bytes)
        return scanner.assignedPolicyDeclared()
    }
}

/// A forward scan over the prolog and the root element's start tag (the attributes only).
private struct RootTagScanner {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func assignedPolicyDeclared() -> Bool? {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        // UTF-16, UTF-32, EBCDIC: the full reader refuses them with its own message.
        if bytes.prefix(4).contains(0) || bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE])
            || bytes.starts(with: [0x4C, 0x6F, 0xA7, 0x94])
        {
            return nil
        }
        guard skipProlog(), let name = name(), localName(name) == "policyStore" else { return nil }
        var declared = false
        while true {
            skipSpace()
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: ">") { return declared }
            if bytes[index] == UInt8(ascii: "/") {
                return index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: ">") ? declared : nil
            }
            guard let attribute = self.name() else { return nil }
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { return nil }
            index += 1
            skipSpace()
            guard let value = quoted() else { return nil }
            if String(decoding: attribute, as: UTF8.self) == "assignedPolicy" {
                guard !value.isEmpty else { return nil }
                declared = true
            }
        }
    }

    /// Skips white space, processing instructions and comments up to the root's `<`; false at a
    /// DOCTYPE, text or the end of the head.
    mutating func skipProlog() -> Bool {
        while index < bytes.count {
            skipSpace()
            if starts("<?") {
                guard let end = find("?>") else { return false }
                index = end + 2
            } else if starts("<!--") {
                guard let end = find("-->") else { return false }
                index = end + 3
            } else if starts("<!") {
                return false
            } else if starts("<") {
                index += 1
                return true
            } else {
                return false
            }
        }
        return false
    }

    /// A name (element or attribute, with any prefix) at `index`.
    mutating func name() -> [UInt8]? {
        let start = index
        while index < bytes.count {
            let c = bytes[index]
            if Self.isSpace(c) || c == UInt8(ascii: "=") || c == UInt8(ascii: ">") || c == UInt8(ascii: "/")
                || c == UInt8(ascii: "<") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'")
            {
                break
            }
            index += 1
        }
        return index > start && index < bytes.count ? Array(bytes[start..<index]) : nil
    }

    /// An attribute value in single or double quotes (raw bytes, references not expanded).
    mutating func quoted() -> ArraySlice<UInt8>? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else {
            return nil
        }
        let quote = bytes[index]
        let start = index + 1
        guard let end = bytes[start...].firstIndex(of: quote) else { return nil }
        index = end + 1
        return bytes[start..<end]
    }

    func localName(_ name: [UInt8]) -> String {
        let local = name.lastIndex(of: UInt8(ascii: ":")).map { name[($0 + 1)...] } ?? name[...]
        return String(decoding: local, as: UTF8.self)
    }

    mutating func skipSpace() {
        while index < bytes.count && Self.isSpace(bytes[index]) { index += 1 }
    }

    func starts(_ text: StaticString) -> Bool {
        text.withUTF8Buffer { bytes[index...].starts(with: $0) }
    }

    func find(_ text: StaticString) -> Int? {
        text.withUTF8Buffer { needle in
            var position = index
            while position + needle.count <= bytes.count {
                if bytes[position...].starts(with: needle) { return position }
                position += 1
            }
            return nil
        }
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
}
