import ArgumentParser
import Driver
import Foundation
import IPsecSystem
import Keying
import PolicyModel
import Providers
import ServiceHost

/// `ipsecsvc status [--json]`: startup type, state, driver mode, sources in effect, counters.
struct StatusSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the service state, the driver mode and the policy sources in effect.",
        discussion: """
            Also the driver's table generation and counters, and each source's state since when.

            Examples:
              ipsecsvc status
              ipsecsvc status --json
            """
    )

    @OptionGroup var options: HostOptions

    @Flag(name: .customLong("json"), help: "Print the report as JSON (stable for scripts).")
    var json = false

    func run() async throws {
        let report = await reportingFailures("QueryServiceStatus") {
            try await ServiceController(configuration: try options.load()).report()
        }
        standardOutput(json ? StatusFormatting.json(report) : StatusFormatting.status(report))
    }
}

/// How `status` and `service query` print a report.
enum StatusFormatting {
    static func json(_ report: ServiceStatusReport) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(report) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// `sc query`-style lines.
    static func query(_ report: ServiceStatusReport) -> String {
        var lines = [
            "SERVICE_NAME: \(report.serviceName)",
            "DISPLAY_NAME: \(report.displayName)",
            "        STATE              : \(report.state.scCode)  \(report.state.rawValue)",
            "        START_TYPE         : \(report.startType.scCode)   \(report.startType.scName)",
            "        PID                : \(report.pid.map(String.init) ?? "0")",
            "        DRIVER_MODE        : \(report.driverMode ?? "unknown")",
        ]
        if report.persistentPolicyFailed {
            lines.append("        PERSISTENT_POLICY  : FAILED (driver in block mode)")
        }
        if let process = report.driverProcess {
            lines.append("        DRIVER_PID         : \(process.pid)")
        }
        if let problem = report.driverProblem {
            lines.append("        DRIVER_ERROR       : \(problem.terminalEscaped())")
        }
        return lines.joined(separator: "\n")
    }

    /// The driver process: `pid N since T (restored its table in X ms)`, or where the driver runs.
    static func driverProcess(_ report: ServiceStatusReport) -> String {
        guard let process = report.driverProcess else {
            return report.state == .stopped ? "-" : "inside the service (memory driver)"
        }
        var text = "process \(process.pid) since \(formatTime(process.startedAt)), socket \(process.socket)"
        if process.restored {
            text +=
                "; restarted, enforced its last table \(process.restoreMilliseconds.map { "\($0) ms" } ?? "") after its start"
        }
        if process.exitsWithService { text += "; started by the service" }
        return text
    }

    /// The longer `status` form. Names, policy names and reasons come from stores, plugins and
    /// configuration files: each is one line, its control characters (line breaks too) escaped.
    static func status(_ report: ServiceStatusReport) -> String {
        var lines = [
            "\(report.displayName) (\(report.serviceName))",
            "  Start type:   \(report.startType.rawValue)",
            "  State:        \(report.state.rawValue)\(report.stateSince.map { " since \(formatTime($0))" } ?? "")",
            "  PID:          \(report.pid.map(String.init) ?? "-")",
            "  Driver mode:  \(report.driverMode ?? "unknown")\(report.driverModeSince.map { " since \(formatTime($0))" } ?? "")",
            "  Driver:       \(Self.driverProcess(report).terminalEscaped())",
            "  Filters:      \(report.filterCount) (table generation \(report.tableGeneration))",
            "  Summary:      \(report.summary.terminalEscaped())",
        ]
        if let problem = report.driverProblem { lines.append("  Driver error: \(problem.terminalEscaped())") }
        if report.sources.isEmpty {
            lines.append("  Sources:      none configured")
        } else {
            // A stopped service applies nothing: these are the stores as they are, for its next start.
            lines.append(
                report.state == .stopped ? "  Sources (as stored; applied when the service starts):" : "  Sources:"
            )
            for source in report.sources {
                var line = "    \(source.name.terminalEscaped()) (\(source.kind.rawValue)): \(source.state.rawValue)"
                if let policy = source.policyName { line += " '\(policy.terminalEscaped())'" }
                line += " since \(formatTime(source.since))"
                if let reason = source.reason { line += " — \(reason.terminalEscaped())" }
                if source.pendingRestart { line += " (changed; applies at the next service start)" }
                lines.append(line)
                if let directory = source.directory { lines += directoryLines(directory) }
            }
        }
        if let settings = report.settings {
            let exempt = settings.inForce("ipsecexempt") ?? "?"
            let boot =
                settings.boot.map { "bootmode \($0.value(of: "bootmode") ?? "default")" } ?? "ipsecsvc boot did not run"
            lines.append("  Settings:     ipsecexempt \(exempt); at this startup: \(boot)")
            for property in settings.pending {
                let value = settings.configured.value(of: property) ?? "?"
                let now = settings.inForce(property) ?? "?"
                lines.append(
                    "  Pending:      \(property) \(value) (in force: \(now)), \(DynamicSettingsState.takesEffect(property))"
                )
            }
        }
        lines += ike(report.keying)
        for (name, value) in report.counters.byKey.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(name.terminalEscaped()): \(value)")
        }
        return lines.joined(separator: "\n")
    }

    /// The directory source's details: where it reads, the last read, the next ones, the failure.
    static func directoryLines(_ status: DirectoryStatus) -> [String] {
        func time(_ value: Int64?) -> String { value.map(formatTime) ?? "never" }
        var lines = ["      Reads:       \(status.source)"]
        if let server = status.server { lines.append("      DC in use:   \(server)") }
        if let computer = status.computerDN { lines.append("      Computer:    \(computer)") }
        if let gpo = status.gpo { lines.append("      GPO:         \(gpo)") }
        if !status.appliedGPOs.isEmpty {
            lines.append("      Applying:    \(status.appliedGPOs.joined(separator: ", "))")
        }
        lines.append("      Last read:   \(time(status.lastSuccess)) (last attempt \(time(status.lastAttempt)))")
        if let objects = status.lastReadObjects {
            let requests = status.lastReadRequests.map { " in \($0) LDAP requests" } ?? ""
            lines.append("      Read cost:   \(objects) objects\(requests)")
        }
        if status.nextPoll != nil || status.nextRefresh != nil {
            lines.append(
                "      Next poll:   \(time(status.nextPoll)); group policy refresh \(time(status.nextRefresh))"
            )
        }
        if let failure = status.failure { lines.append("      Failure:     \(failure)") }
        return lines
    }

    /// The IKE section: daemon, datapath, counts, soft associations, rules that cannot be negotiated.
    static func ike(_ keying: KeyingStatus?) -> [String] {
        guard let keying else {
            return ["  IKE:          off (ike = none, or the memory driver): negotiate filters only check kernel IPsec"]
        }
        var lines = [
            "  IKE:          strongSwan over \(keying.viciSocket), \(keying.datapath) datapath: "
                + (keying.connected
                    ? "connected to \(keying.daemon ?? "charon")"
                    : "NOT CONNECTED (\(keying.lastError ?? "not yet connected")); negotiations fail until charon answers"),
            "    \(keying.connections) connections, \(keying.secrets) secrets loaded",
        ]
        for (name, value) in keying.counters.sorted(by: { $0.key < $1.key }) {
            lines.append("    ike.\(name): \(value)")
        }
        for soft in keying.softAssociations {
            lines.append(
                "    soft association with \(soft.peer) since \(formatTime(soft.since)), idle \(soft.idleSeconds) of \(soft.idleLimitSeconds) s (\(soft.rule.label))"
            )
        }
        for rule in keying.unnegotiable {
            lines.append("    not negotiable: \(rule.rule.label): \(rule.reason)")
        }
        for failure in keying.recentFailures.suffix(5) {
            lines.append(
                "    failed \(formatTime(failure.time)): \(failure.peer) \(failure.reason.rawValue) (\(failure.detail))"
            )
        }
        for note in keying.notes { lines.append("    note: \(note)") }
        return lines
    }
}
