import ArgumentParser

/// The `ipsecsvc` command line: argument parsing and wiring only (DESIGN.md §5).
@main
struct IPsecSvc: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipsecsvc",
        abstract: "Windows Server 2003 IPSec Services (Policy Agent and driver) for Linux.",
        discussion: "Exit codes: 0 success, 1 invalid input or failure, 2 usage error.",
        subcommands: [
            PolicyCommand.self,
            RunSubcommand.self,
            BootSubcommand.self,
            DriverSubcommand.self,
            ServiceSubcommand.self,
            StatusSubcommand.self,
            ExplainSubcommand.self,
            NetshSubcommand.self,
            PluginHostCommand.self,
        ]
    )

    /// ArgumentParser's own `main`, except that usage errors exit 2 instead of 64 (docs/cli.md).
    static func main() async {
        // Installed as `netsh`, or `ipsecsvc netsh ...`: Windows' netsh syntax, not ArgumentParser's.
        if let arguments = NetshCommandLine.arguments(CommandLine.arguments) {
            NetshCommandLine.runAndExit(arguments)
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            CommandExit.exit(for: error)
        }
    }
}
