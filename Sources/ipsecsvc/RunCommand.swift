import ArgumentParser
import ServiceHost

/// `ipsecsvc run`: the service process in the foreground (systemd `Type=notify`).
struct RunSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the IPSEC Services service in the foreground (SIGTERM or Ctrl-C stops it).",
        discussion: """
            Applies the persistent policy and puts the driver in secure mode (block mode if the persistent \
            policy fails), applies the other sources, then answers on the control socket and tells systemd \
            READY=1. SIGHUP refreshes the directory and local policy.

            The first start creates the local store with Windows' three example policies, unassigned \
            (--no-examples or `examples = no`: an empty store); an existing local store is never changed.

            Examples:
              ipsecsvc run
              ipsecsvc run --config /etc/ipsecsvc/ipsecsvc.conf --state-dir /var/lib/ipsecsvc
            """
    )

    @OptionGroup var options: HostOptions

    @Flag(name: .customLong("no-examples"), help: "On the first start, create the local store empty.")
    var noExamples = false

    func run() async throws {
        let noExamples = self.noExamples
        await reportingFailures("StartService") {
            var configuration = try options.load()
            if noExamples { configuration.examples = false }
            try await ServiceRunner(configuration: configuration).run()
        }
    }
}
