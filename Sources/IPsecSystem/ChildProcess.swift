internal import CIPsecSystem
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process this process started and has not yet reaped: the one spawn/wait of the project.
///
/// Signals go to the child only while it is unreaped (its PID cannot belong to anyone else then), and
/// to its whole group when it has one (``Command/Grouping/newGroup``). Waiting uses a pidfd (Linux
/// 5.3+), so it can time out without SIGCHLD handlers or polling; reaping takes the exit status and the
/// peak memory (`wait4`). Nothing here needs the network: it works in a namespace whose loopback is down.
public final class ChildProcess: Sendable {
    public let pid: Int32
    /// The command line, for messages.
    public let commandLine: String
    private let signalsGroup: Bool
    /// Readable once the child has exited; -1 on kernels without pidfd_open.
    let exitDescriptor: Int32
    private let outcome = Mutex<Outcome?>(nil)

    private struct Outcome {
        var status: ExitStatus
        var peakMemoryKiB: Int
    }

    private init(pid: pid_t, commandLine: String, signalsGroup: Bool) {
        self.pid = pid
        self.commandLine = commandLine
        self.signalsGroup = signalsGroup
        let descriptor = cipsec_pidfd_open(pid)
        exitDescriptor = descriptor >= 0 ? descriptor : -1
    }

    deinit {
        if exitDescriptor >= 0 { close(exitDescriptor) }
    }

    /// Starts `command`; returns once the child runs the program (or the start failed).
    ///
    /// The caller must eventually ``wait()`` (or ``waitIfExited()`` until it answers), or the child stays
    /// a zombie. For captured output or bytes as input, use ``run(_:timeout:outputLimit:)``.
    /// - Throws: ``SystemError`` (`spawn`) naming the program: not found, not executable, ...
    public static func spawn(_ command: Command) throws(SystemError) -> ChildProcess {
        var noPipes = ParentEnds()
        return try spawn(command, pipes: &noPipes)
    }

    /// The parent's ends of the pipes ``run(_:timeout:outputLimit:)`` talks through (-1: none).
    struct ParentEnds {
        var input: Int32 = -1
        var output: Int32 = -1
        var error: Int32 = -1
    }

    static func spawn(_ command: Command, pipes: inout ParentEnds) throws(SystemError) -> ChildProcess {
        let path = try command.resolvedExecutable()
        // Descriptors made here for the child only; closed in the parent once the child has them.
        var childOnly: [Int32] = []
        defer { for fd in childOnly { close(fd) } }
        func openForChild(_ file: String) throws(SystemError) -> Int32 {
            let fd = try SystemCall.check("open", path: file) {
                open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            }
            childOnly.append(fd)
            return fd
        }

        let input: Int32
        switch command.standardInput {
        case .null: input = -1
        case .inherit: input = 0
        case .descriptor(let fd): input = fd
        case .bytes:
            // A socket pair rather than a pipe: writes use MSG_NOSIGNAL, so a child that exits without
            // reading everything cannot raise SIGPIPE in this process.
            let (child, parent) = try Descriptors.socketPair()
            shutdown(child, Int32(SHUT_WR))
            childOnly.append(child)
            pipes.input = parent
            input = child
        }
        func target(_ output: Command.Output, number: Int32, other: Int32) throws(SystemError) -> Int32 {
            switch output {
            case .discard: return -1
            case .inherit: return number
            case .descriptor(let fd): return fd
            case .appendToFile(let file): return try openForChild(file)
            case .sameAsOutput: return other
            case .capture:
                let ends = try Descriptors.pipe()
                childOnly.append(ends.write)
                if number == 1 { pipes.output = ends.read } else { pipes.error = ends.read }
                return ends.write
            }
        }
        let output = try target(command.standardOutput, number: 1, other: -1)
        let error = try target(command.standardError, number: 2, other: output)

        let descriptors = [input, output, error] + command.passedDescriptors
        let argv = ([path] + command.arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let environment = command.environment.map { $0.map { strdup($0) } + [nil] }
        defer { for pointer in environment ?? [] { free(pointer) } }
        let group: Int32 =
            switch command.grouping {
            case .inherit: Int32(CIPSEC_SPAWN_INHERIT_GROUP.rawValue)
            case .newGroup: Int32(CIPSEC_SPAWN_NEW_GROUP.rawValue)
            case .newSession: Int32(CIPSEC_SPAWN_NEW_SESSION.rawValue)
            }
        var pid: pid_t = 0
        let result = descriptors.withUnsafeBufferPointer { fds in
            if let environment {
                return cipsec_spawn(&pid, path, argv, environment, fds.baseAddress, Int32(fds.count), group)
            }
            return cipsec_spawn(&pid, path, argv, environ, fds.baseAddress, Int32(fds.count), group)
        }
        guard result == 0 else {
            for fd in [pipes.input, pipes.output, pipes.error] where fd >= 0 { close(fd) }
            pipes = ParentEnds()
            throw SystemError("spawn", path: path, errno: Errno(rawValue: -result))
        }
        return ChildProcess(pid: pid, commandLine: command.description, signalsGroup: command.grouping != .inherit)
    }

    /// Sends `signal` to the child (and its group, if it has one of its own) unless it has been reaped.
    public func signal(_ signal: Int32) {
        outcome.withLock { outcome in
            guard outcome == nil else { return }
            _ = kill(signalsGroup ? -pid : pid, signal)
        }
    }

    /// Waits until the child has exited and reaps it.
    public func wait() -> ExitStatus {
        while true {
            if let status = waitIfExited() { return status }
            _ = waitForExit(until: nil)
        }
    }

    /// Waits at most `timeout` for the child to exit; its status, or `nil` if it still runs.
    public func wait(timeout: Duration) -> ExitStatus? {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if let status = waitIfExited() { return status }
            if !waitForExit(until: deadline) { return waitIfExited() }
        }
    }

    /// Waits at most `timeout` for the child to exit, without reaping it: its PID (and its group's) stay
    /// reserved until ``wait()``, so that ``signal(_:)`` still reaches what it left running in its group
    /// (``Command/Grouping/newGroup``). Whether it exited.
    public func waitUntilExited(timeout: Duration) -> Bool {
        if outcome.withLock({ $0 != nil }) { return true }
        return waitForExit(until: ContinuousClock.now.advanced(by: timeout))
    }

    /// Reaps the child if it has exited; `nil` while it runs. Never blocks.
    public func waitIfExited() -> ExitStatus? {
        outcome.withLock { outcome -> ExitStatus? in
            if let outcome { return outcome.status }
            var status: Int32 = 0
            var usage = rusage()
            var result: pid_t
            repeat { result = wait4(pid, &status, WNOHANG, &usage) } while result < 0 && Errno.current == .interrupted
            if result == pid {
                outcome = Outcome(status: ExitStatus(waitStatus: status), peakMemoryKiB: usage.ru_maxrss)
            } else if result < 0 {
                // ECHILD: reaped elsewhere (SIGCHLD set to SIG_IGN, a stray waitpid(-1)); the status is lost.
                outcome = Outcome(status: .exited(-1), peakMemoryKiB: 0)
            }
            return outcome?.status
        }
    }

    /// Whether the child has exited (without reaping it; for kernels without pidfd).
    func hasExited() -> Bool { cipsec_wait_exited_nowait(pid, 0) == 1 }

    /// The child's peak resident memory in KiB, once reaped.
    public var peakMemoryKiB: Int? { outcome.withLock { $0?.peakMemoryKiB } }

    /// Blocks until the child has exited (without reaping it) or `deadline` passes; whether it exited.
    func waitForExit(until deadline: ContinuousClock.Instant?) -> Bool {
        if exitDescriptor >= 0 {
            var entry = pollfd(fd: exitDescriptor, events: Int16(POLLIN), revents: 0)
            while true {
                let result = Glibc.poll(&entry, 1, Self.milliseconds(until: deadline))
                if result > 0 { return true }
                if result == 0 && Self.milliseconds(until: deadline) == 0 { return false }
                if result < 0 && Errno.current != .interrupted { break }
            }
        }
        // No pidfd (old kernel, or poll failed): block in waitid without a deadline, else look every 5 ms.
        guard let deadline else { return cipsec_wait_exited_nowait(pid, 1) != 0 }
        while ContinuousClock.now < deadline {
            if cipsec_wait_exited_nowait(pid, 0) != 0 { return true }
            usleep(5_000)
        }
        return cipsec_wait_exited_nowait(pid, 0) != 0
    }

    /// `poll`'s timeout until `deadline`: -1 for none, else milliseconds rounded up, 0 once passed.
    static func milliseconds(until deadline: ContinuousClock.Instant?) -> Int32 {
        guard let deadline else { return -1 }
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        return Int32(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}

extension ExitStatus {
    /// Decodes a `wait` status.
    init(waitStatus status: Int32) {
        if cipsec_wait_signaled(status) != 0 {
            self = .signaled(cipsec_wait_signal(status))
        } else {
            self = .exited(cipsec_wait_exit_code(status))
        }
    }
}
