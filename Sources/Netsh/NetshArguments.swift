/// One parameter of a netsh command as its help lists it.
package struct NetshParameter: Hashable, Sendable {
    /// The tag, lower case (`mmsecmethods`).
    package var name: String
    /// What the value looks like in the usage line: `<string>`, `(yes | no)`, ...
    package var syntax: String
    /// The text of the `Tag  Value` table.
    package var help: String
    /// A bare word standing alone (`all`, `default`) rather than a `tag=value`.
    package var isFlag: Bool
    /// May be given more than once (`rootca`).
    package var isRepeatable: Bool

    package init(_ name: String, _ syntax: String, _ help: String, flag: Bool = false, repeatable: Bool = false) {
        self.name = name
        self.syntax = syntax
        self.help = help
        self.isFlag = flag
        self.isRepeatable = repeatable
    }
}

/// The values of one command line, bound to the command's parameters.
///
/// Binding follows netsh: tags match without regard to case and may be abbreviated to any prefix
/// that names one parameter only (`qmsec=` for `qmsecmethods=`); values without a tag fill the
/// parameters in their documented order; a bare word equal to a flag (`all`) sets that flag.
package struct NetshArguments: Sendable {
    /// The command as the user would type it (`add policy`), for messages.
    package var command: String
    /// Values per parameter name, in the order given.
    package private(set) var values: [String: [String]] = [:]
    /// Parameter names in the order they appeared: authentication preference follows it.
    package private(set) var order: [String] = []

    package init(command: String) {
        self.command = command
    }

    /// Binds tokens to `parameters`.
    /// - Throws: ``NetshError`` for an unknown or ambiguous tag, a value given twice, or a value
    ///   with no parameter left to take it.
    ///   `alternatives` are groups such as `name | guid` that take one position together: once one
    ///   of them is given, positional values go on to the next parameter.
    package static func bind(
        _ tokens: [NetshToken],
        to parameters: [NetshParameter],
        alternatives: [[String]] = [],
        command: String
    ) throws(NetshError) -> NetshArguments {
        var result = NetshArguments(command: command)
        func taken(_ parameter: NetshParameter) -> Bool {
            if result.values[parameter.name] != nil { return true }
            let group = alternatives.first { $0.contains(parameter.name) } ?? []
            return group.contains { result.values[$0] != nil }
        }
        for token in tokens {
            if let tag = token.tag {
                let parameter = try match(tag: tag, in: parameters, command: command)
                if parameter.isFlag {
                    throw NetshError("'\(parameter.name)' of '\(command)' takes no value; write it alone.")
                }
                try result.add(parameter, token.value)
            } else if let flag = parameters.first(where: { $0.isFlag && $0.name == token.value.lowercased() }) {
                try result.add(flag, "yes")
            } else if let next = parameters.first(where: { !$0.isFlag && !taken($0) }) {
                try result.add(next, token.value)
            } else {
                throw NetshError(
                    "The value \"\(token.value)\" does not belong to any parameter of '\(command)'. Type '\(command) ?' for its parameters."
                )
            }
        }
        return result
    }

    /// Finds the parameter a (possibly abbreviated) tag names.
    static func match(
        tag: String,
        in parameters: [NetshParameter],
        command: String
    ) throws(NetshError)
        -> NetshParameter
    {
        let lower = tag.lowercased()
        if let exact = parameters.first(where: { $0.name == lower }) { return exact }
        let candidates = parameters.filter { $0.name.hasPrefix(lower) }
        if candidates.count == 1 { return candidates[0] }
        let valid = parameters.map(\.name).joined(separator: ", ")
        if candidates.isEmpty {
            throw NetshError("'\(tag)' is not a valid parameter of '\(command)'. Valid parameters: \(valid).")
        }
        let names = candidates.map(\.name).joined(separator: ", ")
        throw NetshError("The parameter '\(tag)' of '\(command)' is ambiguous: it could be \(names).")
    }

    private mutating func add(_ parameter: NetshParameter, _ value: String) throws(NetshError) {
        if values[parameter.name] != nil, !parameter.isRepeatable {
            throw NetshError("The parameter '\(parameter.name)' is given more than once.")
        }
        values[parameter.name, default: []].append(value)
        order.append(parameter.name)
    }

    // MARK: - Typed access

    package func has(_ name: String) -> Bool { values[name] != nil }

    package func string(_ name: String) -> String? { values[name]?.last }

    package func all(_ name: String) -> [String] { values[name] ?? [] }

    /// `yes`/`no` (also `y`/`n`, as netsh accepts).
    package func bool(_ name: String) throws(NetshError) -> Bool? {
        guard let text = string(name) else { return nil }
        switch text.lowercased() {
        case "yes", "y": return true
        case "no", "n": return false
        default: throw .invalidValue(name, text, accepted: "yes, no")
        }
    }

    /// A decimal integer within `range`.
    package func integer(_ name: String, in range: ClosedRange<Int>) throws(NetshError) -> Int? {
        guard let text = string(name) else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw .invalidValue(name, text, accepted: "an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// One of a fixed set of keywords, any letter case.
    package func choice<T>(_ name: String, _ choices: [(String, T)]) throws(NetshError) -> T? {
        guard let text = string(name) else { return nil }
        if let hit = choices.first(where: { $0.0.lowercased() == text.lowercased() }) { return hit.1 }
        throw .invalidValue(name, text, accepted: choices.map(\.0).joined(separator: ", "))
    }

    /// Checks that each group has at least one of its parameters (`name | guid`).
    package func require(_ groups: [[String]]) throws(NetshError) {
        for group in groups where !group.contains(where: has) {
            throw .missing(group, command: command)
        }
    }
}
