import DecisionCore
import Driver

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
        self.executable = executable ?? ProcessRunner.currentExecutable()
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
        let status = ProcessRunner.run("systemctl", [verb, "--quiet"] + units)
        if status != 0 { warn("systemctl \(verb) \(units.joined(separator: " ")) exited with status \(status)") }
    }

    /// Starts the service and waits until it is RUNNING.
    /// - Throws: ``WindowsError/serviceDisabled`` (1058), ``WindowsError/alreadyRunning`` (1056),
    ///   ``WindowsError/requestTimeout`` (1053) or a ``ServiceStartError`` with the service's last output.
    public func start() throws -> ServiceStatusReport {
        if try store.effectiveStartType(configuration) == .disabled { throw WindowsError.serviceDisabled }
        if configuration.usesSystemd {
            let status = ProcessRunner.run("systemctl", ["start", configuration.serviceUnit])
            if status != 0 {
                throw ServiceStartError(
                    message:
                        "systemctl start \(configuration.serviceUnit) failed (status \(status)); see journalctl -u \(configuration.serviceUnit)."
                )
            }
            return try query()
        }
        if client.isListening() { throw WindowsError.alreadyRunning }
        try Posix.makeDirectories(configuration.stateDirectory, mode: 0o750)
        var arguments = ["run", "--state-dir", configuration.stateDirectory, "--socket", configuration.socketPath]
        if let path = configuration.configPath { arguments += ["--config", path] }
        let pid = try ProcessRunner.spawnDetached(executable, arguments, log: configuration.detachedLogFile)
        let deadline = Posix.monotonicMicroseconds() + 60_000_000
        while Posix.monotonicMicroseconds() < deadline {
            if let report = try? client.send(StatusCommand.self), report.state == .running { return report }
            if let status = ProcessRunner.reap(pid) {
                let tail = (try? Posix.readText(configuration.detachedLogFile)).map(Self.lastLines) ?? ""
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
            let status = ProcessRunner.run("systemctl", ["stop", configuration.serviceUnit])
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
        let deadline = Posix.monotonicMicroseconds() + UInt64(configuration.stopTimeoutSeconds + 10) * 1_000_000
        while Posix.monotonicMicroseconds() < deadline {
            let gone = report.pid.map { ProcessRunner.reap($0) != nil || !Posix.processIsAlive($0) } ?? true
            if gone && !client.isListening() { return try offlineStatus() }
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

/// Running other programs without a shell.
public enum ProcessRunner {
    /// This process's executable (`/proc/self/exe`).
    public static func currentExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Runs `program` (searched in PATH) and returns its exit status (127 when it cannot be run).
    @discardableResult
    public static func run(_ program: String, _ arguments: [String]) -> Int32 {
        guard let pid = try? spawn(program, arguments, setsid: false, log: nil) else { return 127 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return exitStatus(status)
    }

    /// Starts `program` in a new session (it outlives this process), stdin from /dev/null and
    /// stdout/stderr appended to `log`.
    public static func spawnDetached(_ program: String, _ arguments: [String], log: String) throws -> Int32 {
        try spawn(program, arguments, setsid: true, log: log)
    }

    /// The exit status of child `pid` if it has ended (reaping it), else `nil`.
    public static func reap(_ pid: Int32) -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        return result == pid ? exitStatus(status) : nil
    }

    private static func exitStatus(_ status: Int32) -> Int32 {
        // WIFEXITED / WEXITSTATUS are macros Swift does not import.
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    private static func spawn(_ program: String, _ arguments: [String], setsid: Bool, log: String?) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if setsid {
            // POSIX_SPAWN_SETSID (glibc ≥ 2.26) is declared only under _GNU_SOURCE; its value is fixed.
            posix_spawnattr_setflags(&attributes, Int16(0x80))
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if let log {
            posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o640)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result =
            program.contains("/")
            ? posix_spawn(&pid, program, &actions, &attributes, argv, environ)
            : posix_spawnp(&pid, program, &actions, &attributes, argv, environ)
        guard result == 0 else { throw SystemError("posix_spawn", path: program, errno: result) }
        return pid
    }
}
