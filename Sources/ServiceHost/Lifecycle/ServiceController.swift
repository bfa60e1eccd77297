import DecisionCore
import Driver
import IPsecSystem
import Providers

#if canImport(Glibc)
import Glibc
#endif

/// The service control manager side of `ipsecsvc service …`: start, stop, query and configure the
/// service, through systemd when it runs the machine, otherwise by managing the `run` process itself.
public struct ServiceController: Sendable {
    public var configuration: ServiceConfiguration
    /// The `ipsecsvc` executable that `start` runs (default: this process's executable).
    public var executable: String
    /// Receives progress lines (`systemctl` warnings, ...).
    public var warn: @Sendable (String) -> Void

    public init(
        configuration: ServiceConfiguration,
        executable: String? = nil,
        warn: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.executable = executable ?? CurrentProcess.executablePath
        self.warn = warn
    }

    private var store: ServiceStateStore { ServiceStateStore(directory: configuration.stateDirectory) }
    private var client: ControlClient { ControlClient(configuration: configuration) }

    /// The status: from the running service, or from the state directory when it is not running.
    public func query() async throws -> ServiceStatusReport {
        do {
            return try await client.request(StatusCommand.self, ControlEmpty())
        } catch let error as ControlError where error.code == .notRunning {
            return try await offlineStatus()
        }
    }

    /// ``query()``, and for a stopped service with the netfilter driver what the driver process says of
    /// itself when it runs (after `boot`, or after a crash of the service): its mode, table and counters.
    public func report() async throws -> ServiceStatusReport {
        var report = try await query()
        guard report.state == .stopped, configuration.driver == .netfilter,
            let driver = await RemoteDriver.probeStatus(socketPath: configuration.driverSocketPath)
        else { return report }
        report.driverMode = driver.mode?.description ?? report.driverMode
        report.driverProcess = driver.process
        report.tableGeneration = driver.tableGeneration
        report.filterCount = driver.filterCount
        report.counters = driver.counters
        report.summary =
            "the service is stopped; the driver process \(driver.process.map { "\($0.pid) " } ?? "")enforces "
            + "\(report.driverMode ?? "an unknown") mode; \(Self.assignments(report.sources))"
        return report
    }

    /// The status of a service that does not answer on its socket: the start type, the driver's mode
    /// as the last process recorded it, and the sources as stored (what a start would apply), read
    /// without writing anything.
    public func offlineStatus() async throws -> ServiceStatusReport {
        let configuration = configuration
        let store = store
        var report = try await BlockingPool.shared.run { () throws -> ServiceStatusReport in
            var report = ServiceStatusReport(
                startType: try store.effectiveStartType(configuration),
                state: .stopped,
                summary: ""
            )
            if let record = DriverFactory.offlineStatus(configuration) {
                report.driverMode = record.mode?.description
                report.driverModeSince = record.modeSince
                report.tableGeneration = record.tableGeneration
                report.filterCount = record.filterCount
                report.driverProblem = record.failure
            }
            return report
        }
        // Only the files: a `directory_check` that hangs must not hang `status`.
        report.sources = await PolicyEngineFactory.storedSources(configuration, checkingDirectory: false)
        report.summary =
            "the service is stopped; driver in \(report.driverMode ?? "an unknown") mode; \(Self.assignments(report.sources))"
        return report
    }

    /// The stored assignments of a stopped service, for its summary.
    private static func assignments(_ sources: [SourceStatus]) -> String {
        let assigned = sources.filter { $0.state == .inEffect }
        guard !assigned.isEmpty else { return "no policy assigned" }
        return "assigned: " + assigned.map { "\($0.name): \($0.policyName ?? "in effect")" }.joined(separator: ", ")
    }

    /// Records the startup type (authoritative) and, under systemd, enables or disables the unit.
    public func setStartType(_ type: StartupType) async throws {
        let configuration = configuration
        let store = store
        try await BlockingPool.shared.run {
            try StateDirectoryLock.withLock(configuration.stateDirectory) { try store.setStartType(type) }
        }
        makeDefaultJournal().record(
            JournalEntry(
                .startTypeChanged,
                "The start type of the IPSEC Services service was changed to \(type.rawValue).",
                fields: ["IPSECSVC_START_TYPE": type.rawValue]
            )
        )
        guard configuration.usesSystemd else { return }
        // The boot and driver units stay enabled for every type: Manual and Disabled still need permit mode
        // at boot, which the boot step hands to the driver.
        let verb = type == .automatic ? "enable" : "disable"
        let units =
            type == .automatic
            ? [configuration.serviceUnit, configuration.bootUnit, configuration.driverUnit]
            : [configuration.serviceUnit]
        let status = await Self.systemctl([verb, "--quiet"] + units)
        if status != 0 { warn("systemctl \(verb) \(units.joined(separator: " ")) exited with status \(status)") }
    }

    /// Starts the service and waits until it is RUNNING.
    /// - Throws: ``WindowsError/serviceDisabled`` (1058), ``WindowsError/alreadyRunning`` (1056),
    ///   ``WindowsError/requestTimeout`` (1053) or a ``ServiceStartError`` with the service's last output.
    public func start() async throws -> ServiceStatusReport {
        let configuration = configuration
        let store = store
        let client = client
        let startType = try await BlockingPool.shared.run { try store.effectiveStartType(configuration) }
        if startType == .disabled { throw WindowsError.serviceDisabled }
        if configuration.usesSystemd {
            let status = await Self.systemctl(["start", configuration.serviceUnit])
            if status != 0 {
                throw ServiceStartError(
                    message:
                        "systemctl start \(configuration.serviceUnit) failed (status \(status)); see journalctl -u \(configuration.serviceUnit)."
                )
            }
            return try await query()
        }
        let executable = executable
        let service = try await BlockingPool.shared.run { () throws -> ChildProcess in
            if try client.isListening() { throw WindowsError.alreadyRunning }
            try FileSystem.makeDirectories(configuration.stateDirectory, mode: 0o750)
            var arguments = ["run", "--state-dir", configuration.stateDirectory, "--socket", configuration.socketPath]
            if let path = configuration.configPath { arguments += ["--config", path] }
            // A session of its own: the service outlives this command and its terminal.
            return try ChildProcess.spawn(
                Command(
                    executable,
                    arguments,
                    standardOutput: .appendToFile(configuration.detachedLogFile),
                    standardError: .sameAsOutput,
                    grouping: .newSession
                )
            )
        }
        let deadline = SystemClock.monotonicMicroseconds() + 60_000_000
        while SystemClock.monotonicMicroseconds() < deadline {
            if let report = try? await client.request(StatusCommand.self, ControlEmpty()), report.state == .running {
                return report
            }
            if let status = service.waitIfExited()?.shellStatus {
                let log = configuration.detachedLogFile
                let tail = await BlockingPool.shared.run {
                    (try? FileSystem.readTextIfPresent(log, limit: 16 << 20)).flatMap { $0 }.map(Self.lastLines) ?? ""
                }
                throw ServiceStartError(
                    message: "The service exited during start (status \(status)).\(tail.isEmpty ? "" : "\n\(tail)")"
                )
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw WindowsError.requestTimeout
    }

    /// Stops the service gracefully (also while it starts) and waits until the process has exited.
    /// - Throws: ``WindowsError/notActive`` (1062) when it is not running.
    public func stop() async throws -> ServiceStatusReport {
        if configuration.usesSystemd {
            let status = await Self.systemctl(["stop", configuration.serviceUnit])
            if status != 0 {
                throw ServiceStartError(
                    message: "systemctl stop \(configuration.serviceUnit) failed (status \(status))."
                )
            }
            return try await query()
        }
        let report: ServiceStatusReport
        do {
            report = try await client.request(StopCommand.self, ControlEmpty())
        } catch let error as ControlError where error.code == .notRunning {
            throw WindowsError.notActive
        }
        let client = client
        let deadline = SystemClock.monotonicMicroseconds() + UInt64(configuration.stopTimeoutSeconds + 10) * 1_000_000
        while SystemClock.monotonicMicroseconds() < deadline {
            // `isAlive` counts a zombie as gone: the service may be a child of this process (`restart`).
            let gone = report.pid.map { !CurrentProcess.isAlive($0) } ?? true
            let listening = try await BlockingPool.shared.run { try client.isListening() }
            if gone && !listening {
                return try await offlineStatus()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw WindowsError.requestTimeout
    }

    /// Asks the running service to refresh its directory and local sources.
    public func refresh() async throws -> ServiceStatusReport {
        do {
            return try await client.request(RefreshCommand.self, ControlEmpty())
        } catch let error as ControlError where error.code == .notRunning {
            throw WindowsError.notActive
        }
    }

    private static func lastLines(_ text: String) -> String {
        text.split(separator: "\n").suffix(5).joined(separator: "\n")
    }
}

/// The service could not be started or stopped; the message says why.
public struct ServiceStartError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension ServiceController {
    /// How long one `systemctl` call may take: longer than systemd's own start and stop timeouts
    /// (90 s by default), so that it is killed only when systemd itself does not answer.
    public static let systemctlTimeout: Duration = .seconds(300)

    /// Runs `systemctl arguments` (found in `PATH`) with this process's output, and returns its exit
    /// status as a shell reports it (127 when it cannot be run, 124 after a timeout).
    static func systemctl(_ arguments: [String]) async -> Int32 {
        let command = Command("systemctl", arguments, standardOutput: .inherit, standardError: .inherit)
        do {
            return try await ChildProcess.run(command, timeout: systemctlTimeout).status.shellStatus
        } catch let error as SystemError {
            return error.errno == .timedOut ? 124 : 127
        } catch {
            return 127
        }
    }
}
