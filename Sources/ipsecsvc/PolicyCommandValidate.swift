import ArgumentParser
import PolicyFormats
import PolicyModel

/// `ipsecsvc policy validate FILE...`: schema and model checks, every problem reported.
struct PolicyValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check policy files against the schema and the policy rules.",
        discussion: """
            Reads each FILE (the reader checks syntax and schema), then checks what netsh would \
            refuse: dangling references, duplicate names or GUIDs, ports without TCP/UDP, \
            non-contiguous masks, the default response rule, value ranges (docs/cli.md lists them).

            Every problem is printed to standard error as `FILE: location: message`; a good file \
            prints `FILE: valid (N policies, M filter lists, K filter actions)` to standard output. \
            All files are checked even when one fails.

            Exit codes: 0 every file is valid, 1 any file is invalid or unreadable, 2 usage error.

            Examples:
              ipsecsvc policy validate policies-xml/*.xml
              ipsecsvc policy validate --format xml exported.txt
              ipsecsvc policy validate - < site.xml
            """
    )

    @Argument(help: "Policy files to check (`-` reads standard input).")
    var files: [String]

    @Option(help: "Read the files in this format instead of deciding by extension and content.")
    var format: FormatArgument?

    func run() async throws {
        var allValid = true
        for file in files {
            guard let store = readPolicyFile(file, format: format?.format) else {
                allValid = false
                continue
            }
            let name = file == "-" ? "<stdin>" : file
            if reportProblems(store, file: name) {
                standardOutput("\(name): valid (\(store.countSummary))")
            } else {
                allValid = false
            }
        }
        if !allValid { throw CommandExit.invalidInput }
    }
}
