import IPsecSystem
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
        case .exited(let code): ExitStatus.exited(code).description
        case .signaled(let signal): ExitStatus.signaled(signal).description
        case .inProcess: "stopped serving"
        }
    }

    init(_ status: ExitStatus, peakMemoryKiB: Int?) {
        switch status {
        case .exited(let code): self.status = .exited(code)
        case .signaled(let signal): self.status = .signaled(signal)
        }
        self.peakMemoryKiB = peakMemoryKiB
    }

    init(status: Status) {
        self.status = status
    }
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
    /// The plugin-host process; `nil` for an in-process plugin.
    private let child: ChildProcess?
    private let fd: Int32
    /// Guards the socket against use after the reader closed it.
    private let closed = Mutex(false)

    private init(fd: Int32, child: ChildProcess?, events: AsyncStream<Event>) {
        self.fd = fd
        self.child = child
        self.events = events
    }

    var hasEnded: Bool { closed.withLock { $0 } }

    /// Starts `executable arguments…` with the socket as fd 3, stdin from /dev/null and stdout joined
    /// to stderr (so a plugin's printf cannot corrupt the protocol), in a process group of its own: every
    /// process the plugin starts dies with its host (when it fails, is restarted or stopped, and when
    /// the service stops).
    static func spawn(
        executable: String,
        arguments: [String],
        frameLimit: Int
    ) throws(PluginCallError) -> PluginConnection {
        let (serviceEnd, hostEnd) = try socketPair()
        defer { close(hostEnd) }
        // The environment is the service's, except that Swift's crash backtracer stays off unless asked
        // for: symbolicating a crashed plugin host takes seconds of CPU and delays its restart.
        var environment = CurrentProcess.environment()
        if !environment.contains(where: { $0.hasPrefix("SWIFT_BACKTRACE=") }) {
            environment.append("SWIFT_BACKTRACE=enable=no")
        }
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(
                Command(
                    executable,
                    arguments,
                    environment: environment,
                    standardOutput: .descriptor(2),
                    standardError: .inherit,
                    passedDescriptors: [hostEnd],
                    grouping: .newGroup
                )
            )
        } catch {
            close(serviceEnd)
            throw PluginCallError(message: "cannot start \(executable): \(error.errno)")
        }
        return try start(fd: serviceEnd, child: child, frameLimit: frameLimit)
    }

    /// Serves the plugin on a dedicated thread of this process (`isolation = in-process`).
    static func inProcess(
        pluginPath: String,
        maxDocumentSize: Int,
        frameLimit: Int
    ) throws(PluginCallError) -> PluginConnection {
        let (serviceEnd, hostEnd) = try socketPair()
        do {
            try DedicatedThread.start(name: "ipsecsvc-plugin") {
                _ = PluginHostServer.serve(fd: hostEnd, pluginPath: pluginPath, maxDocumentSize: maxDocumentSize)
                close(hostEnd)
            }
        } catch {
            close(serviceEnd)
            close(hostEnd)
            throw PluginCallError(message: "cannot start a thread for the in-process plugin: \(error.errno)")
        }
        return try start(fd: serviceEnd, child: nil, frameLimit: frameLimit)
    }

    /// The service's end and the host's end of a new connection.
    private static func socketPair() throws(PluginCallError) -> (service: Int32, host: Int32) {
        do {
            return try Descriptors.socketPair()
        } catch {
            throw PluginCallError(message: "\(error)")
        }
    }

    private static func start(
        fd: Int32,
        child: ChildProcess?,
        frameLimit: Int
    ) throws(PluginCallError) -> PluginConnection {
        let (events, continuation) = AsyncStream<Event>.makeStream()
        let connection = PluginConnection(fd: fd, child: child, events: events)
        do {
            try DedicatedThread.start(name: "ipsecsvc-plugin-rd") {
                connection.readLoop(continuation, frameLimit: frameLimit)
            }
        } catch {
            // Without a reader nobody would reap the child: end it here.
            if let child {
                child.signal(SIGKILL)
                _ = child.wait()
            } else {
                shutdown(fd, Int32(SHUT_RDWR))
            }
            close(fd)
            throw PluginCallError(message: "cannot start a thread to read from the plugin host: \(error.errno)")
        }
        return connection
    }

    /// Sends a request. Requests are small, so a blocking send is bounded by the socket buffer; a failure
    /// shows up as the end of ``events``.
    func send(_ frame: PluginFrame) {
        closed.withLock { closed in
            guard !closed else { return }
            try? PluginFrameIO.write(frame, to: fd)
        }
    }

    /// Ends the plugin host now: SIGKILL for a child (never once it is reaped); for an in-process plugin,
    /// shuts the socket down (a thread stuck inside the plugin cannot be stopped).
    func terminate() {
        if let child {
            child.signal(SIGKILL)
            return
        }
        closed.withLock { closed in
            if !closed { shutdown(fd, Int32(SHUT_RDWR)) }
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
        let exit = child.map(Self.reap) ?? PluginExit(status: .inProcess)
        closed.withLock { closed in
            closed = true
            close(fd)
        }
        continuation.yield(.ended(exit))
        continuation.finish()
    }

    /// Waits for the child after its socket closed: it usually exits at once; one that closed the socket
    /// but keeps running gets 2 seconds. Then its group is killed — the host if it still runs, and
    /// whatever the plugin started — before the host is reaped (until then the group's id cannot be
    /// reused, so the signal reaches no one else).
    private static func reap(_ child: ChildProcess) -> PluginExit {
        _ = child.waitUntilExited(timeout: .seconds(2))
        child.signal(SIGKILL)
        let status = child.wait()
        return PluginExit(status, peakMemoryKiB: child.peakMemoryKiB)
    }
}
