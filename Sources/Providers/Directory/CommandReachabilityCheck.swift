import IPsecSystem

/// The configured reachability check (`directory_check`): a program that exits 0 when the directory can
/// be reached.
///
/// It runs in a process group of its own with a timeout: a check that hangs (a script waiting on a
/// dead network) is killed, with everything it started, and counts as "unreachable". Stopping the
/// service (cancelling the task) kills it too.
public struct CommandReachabilityCheck: DirectoryReachabilityCheck {
    public var program: String
    public var timeout: Duration

    public init(program: String, timeout: Duration = .seconds(30)) {
        self.program = program
        self.timeout = timeout
    }

    public func unreachableReason() async -> String? {
        let result: CommandResult
        do {
            result = try await ChildProcess.run(Command(program, grouping: .newGroup), timeout: timeout)
        } catch let error as SystemError {
            // `/usr/local/sbin/check: run: did not finish within 30 s and was killed`, or cannot be spawned.
            return error.description
        } catch {
            return "\(program) was stopped: the service is stopping"
        }
        return result.status.succeeded ? nil : "\(program) \(result.status)"
    }
}
