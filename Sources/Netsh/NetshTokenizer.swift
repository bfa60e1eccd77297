/// One word of a netsh command line: a bare value (`all`, `static`, a positional value) or a
/// `tag=value` pair. Quotes and the parentheses around a list are already removed from ``value``.
public struct NetshToken: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The tag as typed (any letter case, possibly abbreviated); `nil` for a bare value.
    public var tag: String?
    public var value: String

    public init(tag: String? = nil, value: String) {
        self.tag = tag
        self.value = value
    }

    public var description: String { tag.map { "\($0)=\(value)" } ?? value }

    /// The bare word in lower case, for matching context and command names.
    var word: String? { tag == nil ? value.lowercased() : nil }
}

/// Splits a command line the way netsh does: white space separates tokens; double quotes keep
/// spaces (and `=`) inside a value; a value that starts with `(` runs to the matching `)`, so lists
/// can be written `mmsecmethods=(3DES-SHA1-2 DES-MD5-1)` as well as in quotes; the first `=` of an
/// unquoted word separates the tag from the value.
///
/// It reads Unicode scalars, not Swift `Character`s: a quote, space, `=` or parenthesis followed by a
/// combining mark is one `Character` (one grapheme cluster) in Swift, but still that delimiter to netsh,
/// which reads UTF-16 code units; and a value quoted by ``quote(_:)`` must read back the same even
/// when it starts with a combining mark (found by the netsh-shell fuzz target).
package enum NetshTokenizer {
    package static func tokenize(_ line: String) throws(NetshError) -> [NetshToken] {
        var tokens: [NetshToken] = []
        var current = TokenBuilder()
        var inQuotes = false
        var parenDepth = 0
        for scalar in line.unicodeScalars {
            if inQuotes {
                if scalar == "\"" {
                    inQuotes = false
                } else {
                    current.append(scalar)
                }
                continue
            }
            if parenDepth > 0 {
                if scalar == "(" { parenDepth += 1 }
                if scalar == ")" {
                    parenDepth -= 1
                    if parenDepth == 0 { continue }
                }
                current.append(scalar)
                continue
            }
            switch scalar {
            case "\"":
                inQuotes = true
                current.started = true
            case "(" where current.valueIsEmpty:
                parenDepth = 1
                current.started = true
            case "=" where current.tag == nil && current.isTagCandidate:
                current.splitTag()
            case " ", "\t", "\r", "\n":
                if let token = current.finish() { tokens.append(token) }
                current = TokenBuilder()
            default:
                current.append(scalar)
            }
        }
        if inQuotes { throw NetshError("A closing quotation mark (\") is missing.") }
        if parenDepth > 0 { throw NetshError("A closing parenthesis ')' is missing.") }
        if let token = current.finish() { tokens.append(token) }
        return tokens
    }

    /// Puts a value in quotes when netsh would need them to read it back as one value.
    package static func quote(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { !" \t\"=()".unicodeScalars.contains($0) }
        return plain ? value : "\"" + value + "\""
    }
}

/// The token being read: text so far, and the tag once an `=` was seen.
private struct TokenBuilder {
    var tag: String?
    var text = ""
    /// A quote or parenthesis opened this token, so even an empty value counts (`description=""`).
    var started = false

    var valueIsEmpty: Bool { text.isEmpty }

    /// Tags are plain words; `"a=b"` in quotes is a value.
    var isTagCandidate: Bool {
        !text.isEmpty && !started && text.allSatisfy { $0.isLetter || $0.isNumber }
    }

    mutating func append(_ scalar: Unicode.Scalar) {
        text.unicodeScalars.append(scalar)
    }

    mutating func splitTag() {
        tag = text
        text = ""
        started = true
    }

    func finish() -> NetshToken? {
        guard tag != nil || started || !text.isEmpty else { return nil }
        return NetshToken(tag: tag, value: text)
    }
}
