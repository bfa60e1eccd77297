import ArgumentParser
import ServiceHost

/// `ipsecsvc driver`: the IPSec driver process (ipsecsvc-driver.service).
struct DriverSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "driver",
        abstract: "Run the IPSec driver process in the foreground (it alone needs CAP_NET_ADMIN).",
        discussion: """
            Owns the kernel hooks, the packet queues, the compiled table and the counters; the service \
            (ipsecsvc run) and the boot step (ipsecsvc boot) hand it modes, tables and settings over its \
            private socket (driver_socket, default driver.sock beside the control socket). It keeps the \
            last table it accepted beside that socket (in /run: a restart after a crash enforces it again \
            at once; after a reboot the startup mode applies until the service has applied its policy). \
            SIGTERM ends the process and leaves the kernel rules in force (secure mode then fails closed \
            until the driver runs again). One driver per network namespace: a second one refuses to start.

            Without systemd, run and boot start it themselves when no driver answers, with \
            --exit-with-service: it then exits after the service's graceful stop. With driver = memory \
            there is nothing to do (the memory driver runs inside the service).

            Examples:
              ipsecsvc driver
              ipsecsvc driver --config /etc/ipsecsvc/ipsecsvc.conf
            """
    )

    @OptionGroup var options: HostOptions

    @Flag(
        name: .customLong("exit-with-service"),
        help: "Exit after the service's graceful stop has put the driver in permit mode."
    )
    var exitWithService = false

    func run() async throws {
        let exitWithService = self.exitWithService
        await reportingFailures("StartDriver") {
            let configuration = try options.load()
            guard configuration.driver == .netfilter else {
                print("driver = memory: the memory driver runs inside the service; nothing to do.")
                return
            }
            try await DriverProcess(configuration: configuration, exitsWithService: exitWithService).run()
        }
    }
}
