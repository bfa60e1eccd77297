import ArgumentParser

/// The `ipsecsvc` command line: argument parsing and wiring only (DESIGN.md §5).
@main
struct IPsecSvc: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipsecsvc",
        abstract: "Windows Server 2003 IPSec Services (Policy Agent and driver) for Linux.",
        subcommands: [PluginHostCommand.self]
    )
}
