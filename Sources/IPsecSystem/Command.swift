#if canImport(Glibc)
import Glibc
#endif

/// A program to run as a child process: what to execute, with which descriptors, in which process
/// group. Started by ``ChildProcess/spawn(_:)`` or run to completion by
/// ``ChildProcess/run(_:timeout:outputLimit:)``.
///
/// Whatever this process has open, the child sees only its descriptors 0–2 and
/// ``passedDescriptors``; whatever signals this process blocks or ignores, the child starts with an
/// empty signal mask and default dispositions.
public struct Command: Sendable, Hashable, CustomStringConvertible {
    /// Where the child's standard input comes from.
    public enum Input: Sendable, Hashable {
        /// `/dev/null`.
        case null
        /// This process's standard input.
        case inherit
        /// These bytes, then end of file (only for ``ChildProcess/run(_:timeout:outputLimit:)``).
        case bytes([UInt8])
        /// A descriptor of this process.
        case descriptor(Int32)
    }

    /// Where the child's standard output or error goes.
    public enum Output: Sendable, Hashable {
        /// `/dev/null`.
        case discard
        /// This process's own standard output (for ``Command/standardOutput``) or error.
        case inherit
        /// Collected into the ``CommandResult`` (only for ``ChildProcess/run(_:timeout:outputLimit:)``).
        case capture
        /// Appended to a file, created with mode 0640 when missing.
        case appendToFile(String)
        /// A descriptor of this process.
        case descriptor(Int32)
        /// For ``Command/standardError`` only: wherever standard output goes.
        case sameAsOutput
    }

    /// The child's process group.
    public enum Grouping: Sendable, Hashable {
        /// This process's group: a terminal's Ctrl-C reaches both.
        case inherit
        /// A group of its own: a timeout or cancellation kills the child and everything it started.
        case newGroup
        /// A session of its own (`setsid`): the child outlives this process (the detached service).
        case newSession
    }

    /// A path, or a name looked up in ``searchPath`` (or `PATH` when that is `nil`).
    public var executable: String
    public var arguments: [String]
    /// Directories to look a bare ``executable`` name up in; `nil`: this process's `PATH`.
    public var searchPath: [String]?
    /// The environment as `NAME=value` entries; `nil`: this process's.
    public var environment: [String]?
    public var standardInput: Input
    public var standardOutput: Output
    public var standardError: Output
    /// Descriptors of this process that the child gets as 3, 4, … in this order.
    public var passedDescriptors: [Int32]
    public var grouping: Grouping

    public init(
        _ executable: String,
        _ arguments: [String] = [],
        searchPath: [String]? = nil,
        environment: [String]? = nil,
        standardInput: Input = .null,
        standardOutput: Output = .discard,
        standardError: Output = .discard,
        passedDescriptors: [Int32] = [],
        grouping: Grouping = .inherit
    ) {
        self.executable = executable
        self.arguments = arguments
        self.searchPath = searchPath
        self.environment = environment
        self.standardInput = standardInput
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.passedDescriptors = passedDescriptors
        self.grouping = grouping
    }

    /// The system tool directories, for tools such as `iptables-restore` that are not always on the
    /// `PATH` of a service or a test.
    public static let systemDirectories = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]

    /// The command line as one might type it (for messages).
    public var description: String { ([executable] + arguments).joined(separator: " ") }

    /// The file to execute: ``executable`` itself when it holds a slash, else the first executable
    /// file of that name in ``searchPath`` (or `PATH`).
    public func resolvedExecutable() throws(SystemError) -> String {
        if executable.contains("/") { return executable }
        let directories =
            searchPath
            ?? (CurrentProcess.environment("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .split(separator: ":").map(String.init)
        for directory in directories where !directory.isEmpty {
            let candidate = directory + "/" + executable
            if access(candidate, X_OK) == 0 && !FileSystem.isDirectory(candidate) { return candidate }
        }
        throw SystemError("spawn", path: executable, errno: .noSuchFile, detail: "not found in \(directories)")
    }
}

/// How a child process ended.
public enum ExitStatus: Hashable, Sendable, CustomStringConvertible {
    /// It called `exit` with this status.
    case exited(Int32)
    /// A signal ended it.
    case signaled(Int32)

    /// Exited with status 0.
    public var succeeded: Bool { self == .exited(0) }

    /// As a shell reports it: the exit status, or 128 + the signal.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "was killed by signal \(signal) (\(Self.signalName(signal)))"
        }
    }

    /// `SIGKILL, Killed`: the conventional name and `strsignal`'s text.
    public static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            SIGSEGV: "SIGSEGV", SIGABRT: "SIGABRT", SIGKILL: "SIGKILL", SIGBUS: "SIGBUS", SIGILL: "SIGILL",
            SIGFPE: "SIGFPE", SIGTERM: "SIGTERM", SIGTRAP: "SIGTRAP", SIGPIPE: "SIGPIPE", SIGXCPU: "SIGXCPU",
            SIGINT: "SIGINT", SIGHUP: "SIGHUP",
        ]
        let text = strsignal(signal).map { String(cString: $0) } ?? "unknown"
        return names[signal].map { "\($0), \(text)" } ?? text
    }
}

/// What ``ChildProcess/run(_:timeout:outputLimit:)`` collected.
public struct CommandResult: Hashable, Sendable {
    public var status: ExitStatus
    /// Standard output, when captured (at most the output limit; see ``outputTruncated``).
    public var output: [UInt8]
    /// Standard error, when captured.
    public var error: [UInt8]
    /// The child wrote more than the limit; the rest was read and dropped.
    public var outputTruncated: Bool

    public var outputText: String { String(decoding: output, as: UTF8.self) }
    public var errorText: String { String(decoding: error, as: UTF8.self) }
}
