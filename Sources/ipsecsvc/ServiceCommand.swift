import ArgumentParser
import IPsecSystem
import ServiceHost

/// `ipsecsvc service query|start|stop|restart|refresh|config`: the service control manager.
struct ServiceSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Query, start, stop, refresh or configure the IPSEC Services service (like sc.exe).",
        discussion: """
            Examples:
              ipsecsvc service query
              ipsecsvc service config --start-type automatic
              ipsecsvc service config start= demand
              ipsecsvc service start
              ipsecsvc service refresh
              ipsecsvc service stop
            """,
        subcommands: [Query.self, Start.self, Stop.self, Restart.self, Refresh.self, Config.self]
    )

    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the state as `sc query` does.",
            discussion: "Examples:\n  ipsecsvc service query\n  ipsecsvc service query --json"
        )
        @OptionGroup var options: HostOptions
        @Flag(name: .customLong("json"), help: "Print the report as JSON.") var json = false

        func run() async throws {
            let report = await reportingFailures("QueryServiceStatus") {
                try await ServiceController(configuration: try options.load()).report()
            }
            standardOutput(json ? StatusFormatting.json(report) : StatusFormatting.query(report))
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start the service (through systemd when it runs the machine) and wait until it runs.",
            discussion: "Examples:\n  ipsecsvc service start\n  IPSECSVC_SYSTEMD=no ipsecsvc service start"
        )
        @OptionGroup var options: HostOptions

        func run() async throws {
            await options.controlAndPrintStatus("StartService") { controller in try await controller.start() }
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop the service gracefully; the driver returns to permit mode.",
            discussion:
                "Examples:\n  ipsecsvc service stop\n  ipsecsvc service stop --socket /run/ipsecsvc/control.sock"
        )
        @OptionGroup var options: HostOptions

        func run() async throws {
            await options.controlAndPrintStatus("ControlService") { controller in try await controller.stop() }
        }
    }

    struct Restart: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop the service if it runs, then start it.",
            discussion: "Examples:\n  ipsecsvc service restart"
        )
        @OptionGroup var options: HostOptions

        func run() async throws {
            await options.controlAndPrintStatus("StartService") { controller in
                do {
                    _ = try await controller.stop()
                } catch let error as WindowsError where error == .notActive {
                    // Not running: restart is a start.
                }
                return try await controller.start()
            }
        }
    }

    struct Refresh: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-read the directory and local policy now (like SIGHUP).",
            discussion: "Examples:\n  ipsecsvc service refresh"
        )
        @OptionGroup var options: HostOptions

        func run() async throws {
            let report = await reportingFailures("ControlService") {
                try await ServiceController(configuration: try options.load()).refresh()
            }
            standardOutput(report.summary)
        }
    }

    struct Config: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set the startup type: --start-type automatic|manual|disabled (or start= auto|demand|disabled).",
            discussion: """
                Examples:
                  ipsecsvc service config --start-type automatic
                  ipsecsvc service config start= disabled
                """
        )
        @OptionGroup var options: HostOptions

        @Option(name: .customLong("start-type"), help: "automatic, manual or disabled.")
        var startType: String?

        @Argument(help: "sc.exe spelling: start= auto|demand|disabled.")
        var scArguments: [String] = []

        func run() async throws {
            await reportingFailures("ChangeServiceConfig") {
                guard let text = try requestedType() else {
                    throw CommandFailure.message(
                        "ipsecsvc: give the startup type: --start-type automatic|manual|disabled (or start= auto|demand|disabled).",
                        exitCode: 2
                    )
                }
                guard let type = StartupType(parsing: text) else {
                    throw CommandFailure.message(
                        "ipsecsvc: '\(text)' is not a startup type; expected automatic, manual or disabled (auto, demand, disabled).",
                        exitCode: 2
                    )
                }
                try await ServiceController(configuration: try options.load(), warn: { standardError($0) })
                    .setStartType(type)
                standardOutput("[SC] ChangeServiceConfig SUCCESS (start type \(type.rawValue), \(type.scName))")
            }
        }

        /// `--start-type X`, `start=X` or `start= X`.
        private func requestedType() throws -> String? {
            if let startType { return startType }
            let joined = scArguments.joined(separator: " ")
            guard !joined.isEmpty else { return nil }
            let parts = joined.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: " ") }
            guard parts.count == 2, parts[0].lowercased() == "start", !parts[1].isEmpty else {
                throw CommandFailure.message(
                    "ipsecsvc: '\(joined)' is not understood; expected start= auto|demand|disabled.",
                    exitCode: 2
                )
            }
            return parts[1]
        }
    }
}

extension HostOptions {
    /// What `service start`, `stop` and `restart` share: runs `control` on a service controller that
    /// prints its warnings, reports a failure as `operation` the way sc.exe does, and prints the
    /// resulting status as `sc query` does.
    fileprivate func controlAndPrintStatus(
        _ operation: String,
        _ control: (ServiceController) async throws -> ServiceStatusReport
    ) async {
        let report = await reportingFailures(operation) {
            try await control(ServiceController(configuration: try load(), warn: { standardError($0) }))
        }
        standardOutput(StatusFormatting.query(report))
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
