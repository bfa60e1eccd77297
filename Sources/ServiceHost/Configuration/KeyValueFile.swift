/// An error in a configuration or state file, naming the file and the line.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var path: String
    /// 1-based line number; 0 when the error concerns the whole file.
    public var line: Int
    public var message: String

    public init(path: String, line: Int, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        line > 0 ? "\(path):\(line): \(message)" : "\(path): \(message)"
    }
}

/// The small `key = value` format of `ipsecsvc.conf` and of the state files: one setting per line,
/// `#` starts a comment line, blank lines are ignored, keys are lower case, a key appears once.
struct KeyValueFile {
    struct Entry {
        var key: String
        var value: String
        var line: Int
    }

    var path: String
    var entries: [Entry]

    /// Parses `text`; every syntax error names `path` and the line.
    init(path: String, text: String) throws(ConfigurationError) {
        self.path = path
        var entries: [Entry] = []
        var seen: [String: Int] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError(path: path, line: number, message: "expected 'key = value', found '\(line)'")
            }
            let key = String(line[..<equals]).trimmingWhitespace()
            let value = String(line[line.index(after: equals)...]).trimmingWhitespace()
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw ConfigurationError(path: path, line: number, message: "invalid key '\(key)'")
            }
            if let first = seen[key] {
                throw ConfigurationError(
                    path: path,
                    line: number,
                    message: "'\(key)' is already set on line \(first)"
                )
            }
            seen[key] = number
            entries.append(Entry(key: key, value: unquote(value), line: number))
        }
        self.entries = entries
    }

    /// Renders entries in the same format (with a leading comment).
    static func render(comment: String, _ pairs: [(String, String)]) -> String {
        var text = comment.split(separator: "\n").map { "# \($0)\n" }.joined()
        for (key, value) in pairs { text += "\(key) = \(value)\n" }
        return text
    }
}

private func unquote(_ value: String) -> String {
    if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
        return String(value.dropFirst().dropLast())
    }
    return value
}

extension StringProtocol {
    /// The string without leading and trailing spaces, tabs and carriage returns.
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return String(self[start...end])
    }
}
