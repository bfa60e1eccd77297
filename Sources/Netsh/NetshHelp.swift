/// netsh's help screens: the command list of a context, the commands of a verb group, and a
/// command's usage with its parameter table, remarks and examples.
package enum NetshHelp {
    /// A context's commands: `(name, summary)` pairs, sorted as netsh sorts them.
    static func commandList(_ entries: [(String, String)], inherited: [(String, String)] = []) -> String {
        var lines = ["", "The following commands are available:", "", "Commands in this context:"]
        let width = max(15, (entries.map(\.0.count).max() ?? 0) + 1)
        for (name, summary) in entries.sorted(by: { $0.0 < $1.0 }) {
            lines.append(NetshText.pad(name, width) + "- " + summary)
        }
        if !inherited.isEmpty {
            lines += ["", "Commands inherited from the netsh context:"]
            for (name, summary) in inherited { lines.append(NetshText.pad(name, width) + "- " + summary) }
        }
        lines.append("")
        lines.append("To view help for a command, type the command, followed by a space, and then type ?.")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The commands every context inherits from the netsh context.
    static let inherited: [(String, String)] = [
        ("..", "Goes up one context level."),
        ("?", "Displays a list of commands."),
        ("exit", "Exits the program."),
        ("help", "Displays a list of commands."),
        ("popd", "Pops a context from the stack."),
        ("pushd", "Pushes current context on stack."),
    ]

    /// `add ?`: the commands of one verb.
    static func group(_ verb: String, _ specs: [NetshCommandSpec]) -> String {
        commandList(specs.filter { $0.verb == verb }.map { ($0.name, $0.summary) })
    }

    /// `add policy ?`.
    package static func usage(_ spec: NetshCommandSpec) -> String {
        var lines: [String] = []
        let prefix = "Usage: \(spec.name) "
        let indent = String(repeating: " ", count: prefix.count)
        var parts: [String] = []
        var consumed: Set<String> = []
        for parameter in spec.parameters where !consumed.contains(parameter.name) {
            if let group = spec.required.first(where: { $0.contains(parameter.name) }), group.count > 1 {
                let members = spec.parameters.filter { group.contains($0.name) }
                members.forEach { consumed.insert($0.name) }
                parts.append(members.map(syntax).joined(separator: " | "))
            } else if spec.required.contains([parameter.name]) {
                parts.append(syntax(parameter))
            } else {
                parts.append("[ \(syntax(parameter)) ]")
            }
        }
        if parts.isEmpty {
            lines.append("Usage: \(spec.name)")
        } else {
            lines.append(prefix + parts[0])
            for part in parts.dropFirst() { lines.append(indent + part) }
        }
        lines += ["", "  " + spec.summary]
        if !spec.parameters.isEmpty {
            lines += ["", "Parameters:", "", "  Tag              Value"]
            for parameter in spec.parameters {
                lines.append("  " + NetshText.pad(parameter.name, 16) + " -" + parameter.help)
            }
        }
        if !spec.remarks.isEmpty {
            lines.append("")
            for (index, remark) in spec.remarks.enumerated() {
                let label = index == 0 ? "Remarks:  " : "          "
                lines.append(label + (spec.remarks.count > 1 ? "\(index + 1). " : "") + remark)
            }
        }
        if !spec.examples.isEmpty {
            lines.append("")
            for (index, example) in spec.examples.enumerated() {
                lines.append((index == 0 ? "Examples: " : "          ") + example)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func syntax(_ parameter: NetshParameter) -> String {
        parameter.isFlag ? parameter.name : "[ \(parameter.name) = ] \(parameter.syntax)"
    }

    /// The summaries of the verbs of the static and dynamic contexts.
    static let verbSummaries: [String: String] = [
        "add": "Creates a new policy and related information.",
        "delete": "Deletes policy and related information.",
        "set": "Modifies existing policies and related information.",
        "show": "Displays details of policies and related information.",
        "dump": "Displays a configuration script.",
        "exportpolicy": "Exports all the policies from the policy store.",
        "importpolicy": "Imports the policies from a file to the policy store.",
    ]

    /// The command list of a context whose commands are `specs`.
    static func context(_ specs: [NetshCommandSpec]) -> String {
        var verbs: [String] = []
        for spec in specs where !verbs.contains(spec.verb) { verbs.append(spec.verb) }
        return commandList(verbs.map { ($0, verbSummaries[$0] ?? "") }, inherited: inherited)
    }
}
