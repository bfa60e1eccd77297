import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How a plugin host ended.
public struct PluginExit: Hashable, Sendable, CustomStringConvertible {
    public enum Status: Hashable, Sendable {
        case exited(Int32)
        case signaled(Int32)
        /// An in-process plugin's serving thread returned.
        case inProcess
    }

    public var status: Status
    /// Peak resident memory of the plugin-host process, from `wait4`; not part of ``description``.
    public var peakMemoryKiB: Int?

    public var description: String {
        switch status {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "was killed by signal \(signal) (\(Self.signalName(signal)))"
        case .inProcess: "stopped serving"
        }
    }

    static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            SIGSEGV: "SIGSEGV", SIGABRT: "SIGABRT", SIGKILL: "SIGKILL", SIGBUS: "SIGBUS", SIGILL: "SIGILL",
            SIGFPE: "SIGFPE", SIGTERM: "SIGTERM", SIGTRAP: "SIGTRAP", SIGPIPE: "SIGPIPE", SIGXCPU: "SIGXCPU",
        ]
        let text = strsignal(signal).map { String(cString: $0) } ?? "unknown"
        return names[signal].map { "\($0), \(text)" } ?? text
    }
}

/// Runs `body` on a new detached thread: for the blocking loops (frame reading, an in-process plugin),
/// which must never run on Swift's cooperative pool.
/// - Returns: `false` when no thread could be created (resource limits); `body` then never runs.
@discardableResult
func startDedicatedThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    let box = Unmanaged.passRetained(ThreadBody(body))
    var thread = pthread_t()
    let result = pthread_create(
        &thread,
        nil,
        { argument in
            let body = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
            body.run()
            return nil
        },
        box.toOpaque()
    )
    guard result == 0 else {
        box.release()
        return false
    }
    pthread_detach(thread)
    return true
}

private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// One live plugin host: a child process (or an in-process serving thread) and the socket to it.
///
/// A dedicated reader thread turns the socket into ``events``: frames, then at most one `broken`
/// (a protocol violation; the child is killed), then exactly one `ended` after the child was reaped.
final class PluginConnection: Sendable {
    enum Event: Sendable {
        case frame(PluginFrame)
        case broken(String)
        case ended(PluginExit)
    }

    let events: AsyncStream<Event>
    /// 0 for an in-process plugin.
    let pid: pid_t
    private let fd: Int32
    /// Guards the socket against use after the reader closed it, and the pid against reuse after reaping.
    private let lifecycle = Mutex(Lifecycle())

    private struct Lifecycle {
        var reaped = false
        var closed = false
    }

    private init(fd: Int32, pid: pid_t, events: AsyncStream<Event>) {
        self.fd = fd
        self.pid = pid
        self.events = events
    }

    var hasEnded: Bool { lifecycle.withLock { $0.closed } }

    /// Starts `executable arguments…` with the socket as fd 3, stdin from /dev/null and stdout joined
    /// to stderr (so a plugin's printf cannot corrupt the protocol).
    static func spawn(
        executable: String,
        arguments: [String],
        frameLimit: Int
    ) throws(PluginCallError) -> PluginConnection {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw PluginCallError(message: "socketpair failed: \(String(cString: strerror(errno)))")
        }
        var childEnd = pair[1]
        if childEnd == 3 {
            // dup2(3, 3) would keep FD_CLOEXEC; move it out of the way first.
            childEnd = fcntl(pair[1], F_DUPFD_CLOEXEC, 4)
            Glibc.close(pair[1])
        }
        defer { Glibc.close(childEnd) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, childEnd, 3)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, 2, 1)

        // The service may block or ignore signals (signal handling libraries do); the child starts clean.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // The environment is the service's, except that Swift's crash backtracer stays off unless asked
        // for: symbolicating a crashed plugin host takes seconds of CPU and delays its restart.
        var environment: [UnsafeMutablePointer<CChar>?] = []
        var index = 0
        var backtraceSet = false
        while let entry = environ[index] {
            if strncmp(entry, "SWIFT_BACKTRACE=", 16) == 0 { backtraceSet = true }
            environment.append(strdup(entry))
            index += 1
        }
        if !backtraceSet { environment.append(strdup("SWIFT_BACKTRACE=enable=no")) }
        environment.append(nil)
        defer { for pointer in environment { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environment)
        guard result == 0 else {
            Glibc.close(pair[0])
            throw PluginCallError(message: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return try start(fd: pair[0], pid: pid, frameLimit: frameLimit)
    }

    /// Serves the plugin on a dedicated thread of this process (`isolation = in-process`).
    static func inProcess(
        pluginPath: String,
        maxDocumentSize: Int,
        frameLimit: Int
    ) throws(PluginCallError) -> PluginConnection {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw PluginCallError(message: "socketpair failed: \(String(cString: strerror(errno)))")
        }
        let serverEnd = pair[1]
        let started = startDedicatedThread {
            _ = PluginHostServer.serve(fd: serverEnd, pluginPath: pluginPath, maxDocumentSize: maxDocumentSize)
            Glibc.close(serverEnd)
        }
        guard started else {
            Glibc.close(pair[0])
            Glibc.close(pair[1])
            throw PluginCallError(message: "cannot start a thread for the in-process plugin")
        }
        return try start(fd: pair[0], pid: 0, frameLimit: frameLimit)
    }

    private static func start(fd: Int32, pid: pid_t, frameLimit: Int) throws(PluginCallError) -> PluginConnection {
        let (events, continuation) = AsyncStream<Event>.makeStream()
        let connection = PluginConnection(fd: fd, pid: pid, events: events)
        guard startDedicatedThread({ connection.readLoop(continuation, frameLimit: frameLimit) }) else {
            // Without a reader nobody would reap the child: end it here.
            if pid > 0 {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            } else {
                shutdown(fd, Int32(SHUT_RDWR))
            }
            Glibc.close(fd)
            throw PluginCallError(message: "cannot start a thread to read from the plugin host")
        }
        return connection
    }

    /// Sends a request. Requests are small, so a blocking send is bounded by the socket buffer; a failure
    /// shows up as the end of ``events``.
    func send(_ frame: PluginFrame) {
        lifecycle.withLock { state in
            guard !state.closed else { return }
            try? PluginFrameIO.write(frame, to: fd)
        }
    }

    /// Ends the plugin host now: SIGKILL for a child; for an in-process plugin, shuts the socket down
    /// (a thread stuck inside the plugin cannot be stopped).
    func terminate() {
        lifecycle.withLock { state in
            if pid > 0 {
                if !state.reaped { kill(pid, SIGKILL) }
            } else if !state.closed {
                shutdown(fd, Int32(SHUT_RDWR))
            }
        }
    }

    private func readLoop(_ continuation: AsyncStream<Event>.Continuation, frameLimit: Int) {
        while true {
            do {
                guard let frame = try PluginFrameIO.read(from: fd, limit: frameLimit) else { break }
                continuation.yield(.frame(frame))
            } catch {
                continuation.yield(.broken("protocol error: \(error)"))
                terminate()
                break
            }
        }
        let exit = pid > 0 ? reap() : PluginExit(status: .inProcess)
        lifecycle.withLock { state in
            state.closed = true
            Glibc.close(fd)
        }
        continuation.yield(.ended(exit))
        continuation.finish()
    }

    /// Waits for the child after its socket closed: it usually exits at once; one that closed the socket
    /// but keeps running gets 2 seconds, then SIGKILL.
    private func reap() -> PluginExit {
        var status: Int32 = 0
        var usage = rusage()
        var waitedMilliseconds = 0
        while true {
            let result = lifecycle.withLock { state -> pid_t in
                let result = wait4(pid, &status, WNOHANG, &usage)
                if result == pid { state.reaped = true }
                return result
            }
            if result == pid { break }
            if result < 0 && errno != EINTR {
                lifecycle.withLock { $0.reaped = true }
                return PluginExit(status: .exited(-1))
            }
            if waitedMilliseconds >= 2000 {
                lifecycle.withLock { state in if !state.reaped { kill(pid, SIGKILL) } }
                while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
                lifecycle.withLock { $0.reaped = true }
                break
            }
            usleep(10_000)
            waitedMilliseconds += 10
        }
        let signal = status & 0x7F
        let exitStatus: PluginExit.Status = signal == 0 ? .exited((status >> 8) & 0xFF) : .signaled(signal)
        return PluginExit(status: exitStatus, peakMemoryKiB: usage.ru_maxrss)
    }
}
