import Foundation
import IPsecSystem
import IPsecTestKit
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Helpers for tests that run the real `ipsecsvc` binary.
enum ServiceHarness {
    /// The built `ipsecsvc`, beside the test bundle.
    static var executable: String {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("ipsecsvc").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return ".build/debug/ipsecsvc"
    }

    static var isRoot: Bool { geteuid() == 0 }

    /// Whether the control socket accepts a connection now. `connect(2)` blocks while the service's
    /// backlog is full: on a thread of its own, not the cooperative pool.
    static func socketAnswers(_ path: String) async -> Bool {
        (try? await offPool { RawControl.connect(path).map { close($0) } != nil }) ?? false
    }
}

/// Runs blocking work (waiting for a process, reading a pipe to its end, a blocking socket exchange) on
/// a thread of its own and resumes the caller when it is done, so the cooperative pool stays free.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do {
                continuation.resume(returning: try body())
            } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.start()
    }
}

/// A temporary service environment: a state directory, a socket path and a configuration file, all
/// under one directory (mode 0755 so that an unprivileged test client can reach the socket).
struct ServiceSandbox {
    let root: String
    var stateDirectory: String { root + "/state" }
    var socket: String { root + "/control.sock" }
    var configPath: String { root + "/ipsecsvc.conf" }
    var logPath: String { root + "/service.log" }
    var driverStatePath: String { stateDirectory + "/driver-state" }

    init(extraConfig: String = "", driver: String = "memory") throws {
        root = TemporaryDirectory(prefix: "ipsecsvc-it").path
        chmod(root, 0o755)
        let config = """
            # test configuration
            state_dir = \(root)/state
            socket = \(root)/control.sock
            systemd = no
            driver = \(driver)
            stop_timeout = 10
            \(extraConfig)
            """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    var commonArguments: [String] { ["--config", configPath] }

    /// Runs `ipsecsvc arguments` to completion, waiting without blocking the pool.
    func execute(
        _ arguments: [String],
        prefix: [String] = [],
        environment: [String: String] = [:]
    ) async throws -> ProcessResult {
        let process = try ServiceProcess(
            prefix + [ServiceHarness.executable] + arguments,
            environment: environment,
            output: root + "/cmd-\(UUID().uuidString).out"
        )
        let status = await process.exited(timeout: 120)
        return ProcessResult(status: status ?? -1, output: process.output)
    }

    /// Starts `ipsecsvc run` in the background.
    func startRun(environment: [String: String] = [:]) throws -> ServiceProcess {
        try ServiceProcess(
            [ServiceHarness.executable, "run"] + commonArguments,
            environment: environment,
            output: logPath
        )
    }

    /// Waits until the service answers `service.status` with RUNNING.
    func waitForRunning(timeout: Double = 60) async -> Bool {
        let socket = socket
        return await eventually(timeout: .seconds(timeout)) {
            // A blocking exchange: on a thread of its own.
            let state = try? await offPool {
                let answer = RawControl.request(socket, #"{"version":1,"command":"service.status"}"#)
                return (answer["body"] as? [String: Any])?["state"] as? String
            }
            return state == "RUNNING"
        }
    }

    /// SIGKILLs `pid` only while it is still this sandbox's service: its command line names this
    /// sandbox's socket or configuration (unique temporary paths). A PID read from the pid file may
    /// belong to another process once the service has exited and been reaped (PIDs wrap here).
    func killServiceIfStillRunning(_ pid: pid_t) {
        guard pid > 0 else { return }
        let arguments = Self.commandLine(of: pid)
        guard arguments.contains(socket) || arguments.contains(configPath) else { return }
        kill(pid, SIGKILL)
    }

    /// The arguments of process `pid` (`/proc/PID/cmdline`; empty when it does not exist).
    static func commandLine(of pid: pid_t) -> [String] {
        // read(2), not FileManager: /proc files report size 0.
        let fd = open("/proc/\(pid)/cmdline", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The memory driver's state as JSON.
    func driverState() -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: driverStatePath) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// `secure`, `permit`, `startup stateful`, ... from the driver-state file.
    func driverMode() -> String? {
        guard let mode = driverState()?["mode"] as? [String: Any], let (kind, value) = mode.first,
            let inner = (value as? [String: Any])?["_0"] as? String
        else { return nil }
        return kind == "startup" ? "startup \(inner)" : inner
    }
}

struct ProcessResult {
    var status: Int32
    var output: String
}

/// A child process with its output captured in a file; killed by `terminate()` if still running.
final class ServiceProcess {
    let pid: pid_t
    let outputPath: String
    private let reaping = Reaping()

    init(_ argv: [String], environment: [String: String] = [:], output: String) throws {
        outputPath = output
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var merged = ProcessInfo.processInfo.environment
        merged.removeValue(forKey: "NOTIFY_SOCKET")
        merged.removeValue(forKey: "WATCHDOG_USEC")
        merged.removeValue(forKey: "IPSECSVC_SOCKET")
        merged.removeValue(forKey: "IPSECSVC_STATE_DIR")
        for (key, value) in environment { merged[key] = value }
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        let args = argv.map { strdup($0) } + [nil]
        defer {
            for pointer in envp { free(pointer) }
            for pointer in args { free(pointer) }
        }
        var child: pid_t = 0
        let result = posix_spawnp(&child, argv[0], &actions, nil, args, envp)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
        pid = child
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Signals the process unless it has been reaped or handed to the reaper of ``terminate()`` (an
    /// unreaped child keeps its PID, even as a zombie; once reaped, the PID may belong to another
    /// process).
    func signal(_ number: Int32) {
        guard reaping.ownsPID else { return }
        kill(pid, number)
    }

    /// The exit status once the process has ended (`nil` on timeout). Polls without blocking.
    func exited(timeout: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if let status = reap() { return status }
            try? await Task.sleep(for: .milliseconds(20))
        } while Date() < deadline
        return reap()
    }

    /// Kills the process if it still runs. Returns at once: the wait for the killed child runs on a
    /// thread of its own, never on the cooperative pool (this is called from `defer`, which cannot
    /// await). The PID is not signalled again afterwards.
    func terminate() {
        guard reaping.handOff() else { return }
        kill(pid, SIGKILL)
        let pid = pid
        let reaping = reaping
        Thread {
            var status: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &status, 0) } while result == -1 && errno == EINTR
            reaping.record(result == pid ? Self.decode(status) : 128 + SIGKILL)
        }
        .start()
    }

    /// Kills the process if it still runs and waits (without blocking the pool) until it is reaped.
    /// - Returns: its exit status (`nil` when it was not reaped within `timeout` seconds).
    @discardableResult
    func terminateAndWait(timeout: Double = 30) async -> Int32? {
        terminate()
        return await exited(timeout: timeout)
    }

    /// A non-blocking `waitpid`; the recorded status once reaped.
    private func reap() -> Int32? { Self.reap(pid, reaping) }

    private static func reap(_ pid: pid_t, _ reaping: Reaping) -> Int32? {
        guard reaping.ownsPID else { return reaping.status }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        let value = decode(status)
        reaping.record(value)
        return value
    }

    /// Sends `number` and watches the process until it exits (at most `timeout` seconds):
    /// ``StopMeasurement/watch(_:timeout:signal:exited:code:)``.
    /// - Returns: `nil` when it did not exit in time.
    func signalAndMeasure(_ number: Int32, timeout: Double) async -> StopMeasurement? {
        guard reaping.ownsPID else { return nil }
        let pid = pid
        let reaping = reaping
        return await StopMeasurement.watch(
            pid,
            timeout: .seconds(timeout),
            signal: { kill(pid, number) },
            exited: { Self.reap(pid, reaping) },
            code: { $0 }
        )?.took
    }

    private static func decode(_ status: Int32) -> Int32 {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Whether this object still owns the child's PID (not reaped, not handed to the reaper thread),
    /// and its exit status once known; shared with the reaper thread.
    private final class Reaping: Sendable {
        private let state = Mutex<(status: Int32?, handedOff: Bool)>((nil, false))

        var status: Int32? { state.withLock { $0.status } }
        var ownsPID: Bool { state.withLock { $0.status == nil && !$0.handedOff } }

        /// Takes the PID for the reaper thread; false when it was already reaped or taken.
        func handOff() -> Bool {
            state.withLock { state in
                guard state.status == nil, !state.handedOff else { return false }
                state.handedOff = true
                return true
            }
        }

        func record(_ status: Int32) { state.withLock { $0.status = status } }
    }
}

/// A `NOTIFY_SOCKET` the test owns: an `AF_UNIX` datagram socket collecting sd_notify messages.
final class NotifyListener {
    let path: String
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    }

    deinit { close(fd) }

    /// The next message, or `nil` after `timeout` seconds (polls without blocking the pool).
    /// The socket is read once more after the deadline: a test task that the busy cooperative pool resumes
    /// late must still see a message that arrived in time.
    func next(timeout: Double = 30) async -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 0) > 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { return nil }
                return String(decoding: buffer[0..<count], as: UTF8.self)
            }
            if Date() >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The next message that is not a watchdog ping; counts the pings it skips.
    func nextNonWatchdog(timeout: Double = 30, pings: inout Int) async -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            // `next` reads at least once even when the deadline has passed meanwhile.
            guard let message = await next(timeout: max(0, deadline.timeIntervalSinceNow)) else { return nil }
            if message == "WATCHDOG=1" {
                pings += 1
                continue
            }
            return message
        }
    }
}

/// A raw control-socket client for protocol tests.
enum RawControl {
    /// Connects, sends `bytes`, half-closes and reads the answer (empty when none).
    static func exchange(_ socketPath: String, _ bytes: [UInt8], timeout: Int = 30) -> String {
        guard let fd = connect(socketPath) else { return "" }
        defer { close(fd) }
        var value = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { break }
            offset += sent
        }
        shutdown(fd, Int32(SHUT_WR))
        return readAll(fd)
    }

    static func request(_ socketPath: String, _ json: String) -> [String: Any] {
        let answer = exchange(socketPath, Array((json + "\n").utf8))
        return (try? JSONSerialization.jsonObject(with: Data(answer.utf8))) as? [String: Any] ?? [:]
    }

    static func connect(_ path: String) -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Waits (without blocking the pool) until `fd` has something to read or is closed.
    static func waitReadable(_ fd: Int32, timeout: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 0) > 0 { return true }
            try? await Task.sleep(for: .milliseconds(20))
        } while Date() < deadline
        return false
    }

    static func readAll(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A `directory_check` that writes its PID and then hangs for `seconds` (a domain controller that never
/// answers); ``config`` is the configuration that makes a service run it.
struct HangingDirectoryCheck {
    let directory = TemporaryDirectory(prefix: "ipsecsvc-check")
    let config: String

    init(seconds: Int) {
        let script = directory.write("check", "#!/bin/sh\necho $$ > \(directory.file("pid"))\nexec sleep \(seconds)\n")
        chmod(script, 0o755)
        config = """
            computer_dn = CN=HOST1,OU=Servers,DC=example,DC=com
            directory_check = \(script)
            directory_check_timeout = \(seconds * 5 / 2)
            """
    }

    /// The check's PID once it runs (the shell creates the file before `echo` writes: a whole line).
    func pid() -> Int32? {
        let text = (try? String(contentsOfFile: directory.file("pid"), encoding: .utf8)) ?? ""
        return text.hasSuffix("\n") ? Int32(text.dropLast()) : nil
    }

    func remove() { directory.remove() }
}
