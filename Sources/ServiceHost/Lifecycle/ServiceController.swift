import DecisionCore
import Driver
import IPsecSystem

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
    public func query() throws -> ServiceStatusReport {
        let answer = Result { () throws(ControlError) in try client.send(StatusCommand.self) }
        if case .failure(let error) = answer, error.code == .notRunning { return try offlineStatus() }
        return try answer.get()
    }

    /// The status of a service that does not answer on its socket.
    public func offlineStatus() throws -> ServiceStatusReport {
        let startType = try store.effectiveStartType(configuration)
        var report = ServiceStatusReport(startType: startType, state: .stopped, summary: "")
        if let record = DriverFactory.offlineStatus(configuration) {
            report.driverMode = record.mode?.description
            report.driverModeSince = record.modeSince
            report.tableGeneration = record.tableGeneration
            report.filterCount = record.filterCount
        }
        report.summary =
            "the service is stopped; driver in \(report.driverMode ?? "an unknown") mode"
        return report
    }

    /// Records the startup type (authoritative) and, under systemd, enables or disables the unit.
    public func setStartType(_ type: StartupType) throws {
        try StateDirectoryLock.withLock(configuration.stateDirectory) { try store.setStartType(type) }
        makeDefaultJournal().record(
            JournalEntry(
                .startTypeChanged,
                "The start type of the IPSEC Services service was changed to \(type.rawValue).",
                fields: ["IPSECSVC_START_TYPE": type.rawValue]
            )
        )
        guard configuration.usesSystemd else { return }
        // The boot unit stays enabled for every type: Manual and Disabled still need permit mode at boot.
        let verb = type == .automatic ? "enable" : "disable"
        let units =
            type == .automatic ? [configuration.serviceUnit, configuration.bootUnit] : [configuration.serviceUnit]
        let status = Self.systemctl([verb, "--quiet"] + units)
        if status != 0 { warn("systemctl \(verb) \(units.joined(separator: " ")) exited with status \(status)") }
    }

    /// Starts the service and waits until it is RUNNING.
    /// - Throws: ``WindowsError/serviceDisabled`` (1058), ``WindowsError/alreadyRunning`` (1056),
    ///   ``WindowsError/requestTimeout`` (1053) or a ``ServiceStartError`` with the service's last output.
    public func start() throws -> ServiceStatusReport {
        if try store.effectiveStartType(configuration) == .disabled { throw WindowsError.serviceDisabled }
        if configuration.usesSystemd {
            let status = Self.systemctl(["start", configuration.serviceUnit])
            if status != 0 {
                throw ServiceStartError(
                    message:
                        "systemctl start \(configuration.serviceUnit) failed (status \(status)); see journalctl -u \(configuration.serviceUnit)."
                )
            }
            return try query()
        }
        if try client.isListening() { throw WindowsError.alreadyRunning }
        try FileSystem.makeDirectories(configuration.stateDirectory, mode: 0o750)
        var arguments = ["run", "--state-dir", configuration.stateDirectory, "--socket", configuration.socketPath]
        if let path = configuration.configPath { arguments += ["--config", path] }
        // A session of its own: the service outlives this command and its terminal.
        let service = try ChildProcess.spawn(
            Command(
                executable,
                arguments,
                standardOutput: .appendToFile(configuration.detachedLogFile),
                standardError: .sameAsOutput,
                grouping: .newSession
            )
        )
        let deadline = SystemClock.monotonicMicroseconds() + 60_000_000
        while SystemClock.monotonicMicroseconds() < deadline {
            if let report = try? client.send(StatusCommand.self), report.state == .running { return report }
            if let status = service.waitIfExited()?.shellStatus {
                let tail =
                    (try? FileSystem.readTextIfPresent(configuration.detachedLogFile, limit: 16 << 20)).flatMap { $0 }
                    .map(Self.lastLines) ?? ""
                throw ServiceStartError(
                    message: "The service exited during start (status \(status)).\(tail.isEmpty ? "" : "\n\(tail)")"
                )
            }
            usleep(50_000)
        }
        throw WindowsError.requestTimeout
    }

    /// Stops the service gracefully and waits until the process has exited.
    /// - Throws: ``WindowsError/notActive`` (1062) when it is not running.
    public func stop() throws -> ServiceStatusReport {
        if configuration.usesSystemd {
            let status = Self.systemctl(["stop", configuration.serviceUnit])
            if status != 0 {
                throw ServiceStartError(
                    message: "systemctl stop \(configuration.serviceUnit) failed (status \(status))."
                )
            }
            return try query()
        }
        let answer = Result { () throws(ControlError) in try client.send(StopCommand.self) }
        if case .failure(let error) = answer, error.code == .notRunning { throw WindowsError.notActive }
        let report = try answer.get()
        let deadline = SystemClock.monotonicMicroseconds() + UInt64(configuration.stopTimeoutSeconds + 10) * 1_000_000
        while SystemClock.monotonicMicroseconds() < deadline {
            // `isAlive` counts a zombie as gone: the service may be a child of this process (`restart`).
            let gone = report.pid.map { !CurrentProcess.isAlive($0) } ?? true
            if try gone && !client.isListening() { return try offlineStatus() }
            usleep(50_000)
        }
        throw WindowsError.requestTimeout
    }

    /// Asks the running service to refresh its directory and local sources.
    public func refresh() throws -> ServiceStatusReport {
        let answer = Result { () throws(ControlError) in try client.send(RefreshCommand.self) }
        if case .failure(let error) = answer, error.code == .notRunning { throw WindowsError.notActive }
        return try answer.get()
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
    static func systemctl(_ arguments: [String]) -> Int32 {
        let command = Command("systemctl", arguments, standardOutput: .inherit, standardError: .inherit)
        do {
            return try ChildProcess.runBlocking(command, timeout: systemctlTimeout).status.shellStatus
        } catch {
            return error.errno == .timedOut ? 124 : 127
        }
    }
}
