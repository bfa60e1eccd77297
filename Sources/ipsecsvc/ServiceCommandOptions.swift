import ArgumentParser
import ServiceHost

#if canImport(Glibc)
import Glibc
#endif

/// `--config`, `--state-dir` and `--socket`, shared by every command that reaches the service or its
/// state (DESIGN.md §4–5). The environment (`IPSECSVC_STATE_DIR`, `IPSECSVC_SOCKET`) applies when a
/// flag is absent.
struct HostOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "Configuration file (default /etc/ipsecsvc/ipsecsvc.conf).")
    var config: String?

    @Option(
        name: .customLong("state-dir"),
        help: "State directory (default /var/lib/ipsecsvc; env IPSECSVC_STATE_DIR)."
    )
    var stateDirectory: String?

    @Option(
        name: .customLong("socket"),
        help: "Control socket (default /run/ipsecsvc/control.sock; env IPSECSVC_SOCKET)."
    )
    var socket: String?

    /// The resolved configuration; a broken file ends the command with its file and line.
    func load() throws -> ServiceConfiguration {
        do {
            return try ServiceConfiguration.load(path: config, stateDirectory: stateDirectory, socketPath: socket)
        } catch {
            throw CommandFailure.message("\(error)")
        }
    }
}

/// A command's failure: the sentence for stderr and the exit code.
enum CommandFailure: Error {
    case message(String, exitCode: Int32 = 1)

    /// The `sc` way of reporting a refused control: `[SC] StartService FAILED 1058:` and the text.
    static func windows(_ operation: String, _ error: WindowsError, exitCode: Int32 = 1) -> CommandFailure {
        .message("[SC] \(operation) FAILED \(error.code):\n\n\(error.message)", exitCode: exitCode)
    }
}

extension CommandFailure {
    /// Prints the failure and ends the process with its exit code.
    func exit() -> Never {
        switch self {
        case .message(let text, let code):
            standardError(text)
            Glibc.exit(code)
        }
    }
}

/// Runs `body`, turning the service host's errors into one clear sentence on stderr and an exit code.
func reportingFailures<T>(_ operation: String, _ body: () async throws -> T) async -> T {
    do {
        return try await body()
    } catch let failure as CommandFailure {
        failure.exit()
    } catch let error as WindowsError {
        CommandFailure.windows(operation, error, exitCode: error == .serviceDisabled ? 78 : 1).exit()
    } catch let error as ControlError {
        if let code = error.windowsError, code != WindowsError.accessDenied.code {
            CommandFailure.windows(operation, WindowsError(code: code, message: error.message)).exit()
        }
        CommandFailure.message("ipsecsvc: \(error.message)").exit()
    } catch {
        CommandFailure.message("ipsecsvc: \(error)").exit()
    }
}

/// `2026-11-29 12:00:00 UTC` for seconds since 1970.
func formatTime(_ seconds: Int64?) -> String {
    guard let seconds else { return "-" }
    var time = time_t(seconds)
    var parts = tm()
    gmtime_r(&time, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return
        "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
}
