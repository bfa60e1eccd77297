import ArgumentParser

/// `ipsecsvc policy …`: work with policy files and stores (DESIGN.md §5).
///
/// `validate`, `show` and `convert` work on files and need no service; `import`/`export` and
/// `show --effective` (which talk to the stores) join as further subcommands.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check, show and convert IPsec policy files.",
        discussion: """
            A policy file holds a whole store: policies, filter lists and filter actions, as \
            `netsh ipsec static show all` lists them. The format follows from the file name's \
            extension (.xml) or the content; --format overrides it.

            Exit codes: 0 success, 1 invalid or unreadable input, 2 usage error.

            Examples:
              ipsecsvc policy validate policies-xml/*.xml
              ipsecsvc policy show policies-xml/secure-server-require-security.xml
              ipsecsvc policy show site.xml --json | jq '.policies[].name'
              ipsecsvc policy convert site.xml normalized.xml
            """,
        subcommands: [
            PolicyValidateCommand.self,
            PolicyShowCommand.self,
            PolicyConvertCommand.self,
            PolicyImportSubcommand.self,
            PolicyExportSubcommand.self,
        ]
    )
}
