import Driver
import IPsecSystem
import Synchronization

/// Starts `ipsecsvc driver --exit-with-service` when no driver answers and systemd does not run the
/// machine (tests, `scripts/run-local.sh`, containers without systemd): in a session of its own, so that
/// it outlives the agent (a `kill -9` of the agent must not take the driver with it), with its output in
/// `ipsecsvc-driver.log` in the state directory. It exits after the service's graceful stop.
///
/// The agent reaps it: a ``DedicatedThread`` waits for each driver it started (a process that lives as
/// long as the driver), so none stays a zombie when it exits while the agent runs.
public final class DriverLauncher: Sendable {
    public let executable: String
    public let arguments: [String]
    public let logFile: String
    /// The driver started last, and how it ended once it has.
    private let launched = Mutex<(pid: Int32, exit: ExitStatus?)?>(nil)

    public init(executable: String, arguments: [String], logFile: String) {
        self.executable = executable
        self.arguments = arguments
        self.logFile = logFile
    }

    /// The launcher for `configuration`: this executable, `driver --exit-with-service` with the same
    /// configuration file, state directory and socket.
    public convenience init(configuration: ServiceConfiguration, executable: String? = nil) {
        var arguments = ["driver", "--exit-with-service", "--state-dir", configuration.stateDirectory]
        arguments += ["--socket", configuration.socketPath]
        if let path = configuration.configPath { arguments += ["--config", path] }
        self.init(
            executable: executable ?? CurrentProcess.executablePath,
            arguments: arguments,
            logFile: configuration.driverLogFile
        )
    }

    /// Starts a driver process.
    /// - Throws: ``SystemError`` when it cannot be started.
    func launch() async throws {
        // The agent's systemd channels are not the driver's: its READY=1 must not reach the agent's
        // notify socket.
        let environment = CurrentProcess.environment().filter { entry in
            !["NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=", "LISTEN_FDS=", "LISTEN_PID="].contains {
                entry.hasPrefix($0)
            }
        }
        let command = Command(
            executable,
            arguments,
            environment: environment,
            standardOutput: .appendToFile(logFile),
            standardError: .sameAsOutput,
            grouping: .newSession
        )
        let logFile = self.logFile
        let child = try await BlockingPool.shared.run { () throws(SystemError) in
            try FileSystem.makeDirectories(FileSystem.directory(of: logFile), mode: 0o750)
            return try ChildProcess.spawn(command)
        }
        launched.withLock { $0 = (child.pid, nil) }
        try DedicatedThread.start(name: "ipsecsvc-drvwait") { [self] in
            let status = child.wait()
            launched.withLock { current in
                if current?.pid == child.pid { current = (child.pid, status) }
            }
        }
    }

    /// Why the driver started last ended, if it ended: its exit status and the last lines it wrote.
    func failure() async throws -> DriverError? {
        guard let (pid, exit) = launched.withLock({ $0 }), let exit else { return nil }
        let logFile = self.logFile
        let tail = await BlockingPool.shared.run {
            ((try? FileSystem.readTextIfPresent(logFile, limit: 16 << 20)) ?? nil).map {
                $0.split(separator: "\n").suffix(3).joined(separator: "\n")
            } ?? ""
        }
        let kind: DriverError.Kind = tail.contains("another ipsecsvc driver") ? .anotherInstance : .failed
        return DriverError(
            kind,
            "the IPSec driver process (pid \(pid)) \(exit) during its start\(tail.isEmpty ? "" : ": \(tail)")"
        )
    }
}
