import PolicyModel

/// A netsh command that cannot be carried out: one sentence in the tone of netsh's own messages,
/// naming the offending parameter and the values it accepts.
///
/// Scripts add the place (`file:line`) so that an administrator finds the failing line; the CLI
/// prints ``description`` to stderr and exits non-zero.
public struct NetshError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The message without a place, e.g. `Policy with name "Web" does not exist.`
    public var message: String
    /// The script (file name or `<stdin>`) the command came from, if any.
    public var source: String?
    /// The 1-based line of the script, if any.
    public var line: Int?

    public init(_ message: String, source: String? = nil, line: Int? = nil) {
        self.message = message
        self.source = source
        self.line = line
    }

    public var description: String {
        switch (source, line) {
        case (let source?, let line?): "\(source):\(line): \(message)"
        case (nil, let line?): "line \(line): \(message)"
        case (let source?, nil): "\(source): \(message)"
        case (nil, nil): message
        }
    }

    /// The same error located at a script line.
    public func at(source: String?, line: Int) -> NetshError {
        NetshError(message, source: source, line: line)
    }

    /// A value that the parameter does not accept.
    static func invalidValue(_ tag: String, _ value: String, accepted: String) -> NetshError {
        NetshError("The value \"\(value)\" is not valid for parameter '\(tag)'. Accepted values: \(accepted).")
    }

    /// A required parameter that is missing.
    static func missing(_ tags: [String], command: String) -> NetshError {
        let names = tags.map { "'\($0)'" }.joined(separator: " or ")
        return NetshError("One or more essential parameters were not entered: \(names) is required by '\(command)'.")
    }

    /// An object that does not exist in the store.
    static func notFound(_ kind: String, _ name: String) -> NetshError {
        NetshError("\(kind) with name \"\(name)\" does not exist.")
    }

    /// An object whose name is already taken.
    static func exists(_ kind: String, _ name: String) -> NetshError {
        NetshError("\(kind) with name \"\(name)\" already exists.")
    }

    /// The message the dynamic commands give when there is no running service to talk to.
    public static let serviceNotRunning = NetshError(
        "The IPsec Services service is not running. Dynamic commands need the running service; start it with 'ipsecsvc service start'."
    )
}

extension ObjectMatch {
    /// The position of the one object a netsh parameter names; otherwise "does not exist", or, when
    /// several objects carry the name (objects are their GUIDs), which GUIDs to choose from.
    func required(_ kind: String, plural: String, name: String, parameter: String) throws(NetshError) -> Int {
        switch self {
        case .one(let index): return index
        case .none: throw .notFound(kind, name)
        case .ambiguous:
            throw NetshError((ambiguityMessage(kinds: plural, name: name, parameter: parameter) ?? "") + ".")
        }
    }
}
