import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension ChildProcess {
    /// Runs `command` to completion on the ``BlockingPool``: feeds ``Command/Input/bytes(_:)``, collects
    /// ``Command/Output/capture`` output, and waits at most `timeout`.
    ///
    /// Cancelling the calling task kills the child (its group, with ``Command/Grouping/newGroup``) and
    /// throws `CancellationError` once it is reaped, so a stopping service never waits for a child.
    /// - Parameter outputLimit: bytes kept of each captured stream; the rest is read and dropped.
    /// - Throws: ``SystemError`` (`spawn` failed; `run` with ``Errno/timedOut`` after killing a child
    ///   that overran `timeout`), or `CancellationError`.
    public static func run(
        _ command: Command,
        timeout: Duration,
        outputLimit: Int = 1 << 20
    ) async throws -> CommandResult {
        try Task.checkCancellation()
        let slot = CancellationSlot()
        let result = await withTaskCancellationHandler {
            await BlockingPool.shared.run { () -> Result<CommandResult, SystemError> in
                Result { () throws(SystemError) in
                    try runBlocking(command, timeout: timeout, outputLimit: outputLimit) { slot.attach($0) }
                }
            }
        } onCancel: {
            slot.cancel()
        }
        if slot.isCancelled { throw CancellationError() }
        return try result.get()
    }

    /// ``run(_:timeout:outputLimit:)`` on the calling thread, which it blocks: for code that already
    /// runs on the ``BlockingPool`` or a thread of its own.
    /// - Parameter started: called with the child once it runs (to kill it from elsewhere).
    public static func runBlocking(
        _ command: Command,
        timeout: Duration,
        outputLimit: Int = 1 << 20,
        started: (ChildProcess) -> Void = { _ in }
    ) throws(SystemError) -> CommandResult {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var ends = ParentEnds()
        let child = try spawn(command, pipes: &ends)
        started(child)
        var exchange = Exchange(ends: ends, input: command.standardInput, limit: outputLimit)
        defer { exchange.closeAll() }
        var exited = false
        while exchange.isOpen && !exited && ContinuousClock.now < deadline {
            exited = exchange.pump(exitDescriptor: child.exitDescriptor, until: deadline)
            if !exited && child.exitDescriptor < 0 { exited = child.hasExited() }
        }
        if exited {
            // The child is gone, so what it wrote is in the pipes now; a program it left running that
            // still holds them open does not keep this call waiting.
            exchange.drainAvailable()
        } else if !exchange.isOpen {
            exited = child.waitForExit(until: deadline)
        }
        if !exited {
            child.signal(SIGKILL)
            _ = child.wait()
            throw SystemError(
                "run",
                path: command.executable,
                errno: .timedOut,
                detail: "did not finish within \(timeout.formattedSeconds) and was killed"
            )
        }
        return CommandResult(
            status: child.wait(),
            output: exchange.output,
            error: exchange.error,
            outputTruncated: exchange.truncated
        )
    }
}

/// The parent's side of a running command's pipes: writes the input, reads the outputs, with `poll`.
private struct Exchange {
    var ends: ChildProcess.ParentEnds
    var pending: [UInt8]
    var written = 0
    var output: [UInt8] = []
    var error: [UInt8] = []
    var truncated = false
    let limit: Int

    init(ends: ChildProcess.ParentEnds, input: Command.Input, limit: Int) {
        self.ends = ends
        self.limit = limit
        if case .bytes(let bytes) = input { pending = bytes } else { pending = [] }
        for fd in [ends.input, ends.output, ends.error] where fd >= 0 {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        if ends.input >= 0 && pending.isEmpty { closeInput() }
    }

    var isOpen: Bool { ends.input >= 0 || ends.output >= 0 || ends.error >= 0 }

    /// One `poll` round over the open pipes and the child's pidfd; whether the child has exited.
    mutating func pump(exitDescriptor: Int32, until deadline: ContinuousClock.Instant) -> Bool {
        var entries: [pollfd] = []
        if ends.input >= 0 { entries.append(pollfd(fd: ends.input, events: Int16(POLLOUT), revents: 0)) }
        if ends.output >= 0 { entries.append(pollfd(fd: ends.output, events: Int16(POLLIN), revents: 0)) }
        if ends.error >= 0 { entries.append(pollfd(fd: ends.error, events: Int16(POLLIN), revents: 0)) }
        let watchesExit = exitDescriptor >= 0
        if watchesExit { entries.append(pollfd(fd: exitDescriptor, events: Int16(POLLIN), revents: 0)) }
        // Without a pidfd, look at the child every 10 ms.
        let wait =
            watchesExit
            ? ChildProcess.milliseconds(until: deadline) : min(10, ChildProcess.milliseconds(until: deadline))
        let ready = Glibc.poll(&entries, nfds_t(entries.count), wait)
        if ready <= 0 { return false }
        var exited = false
        for entry in entries where entry.revents != 0 {
            switch entry.fd {
            case ends.input: writeInput()
            case ends.output: read(.output)
            case ends.error: read(.error)
            default: exited = true
            }
        }
        return exited
    }

    mutating func drainAvailable() {
        while read(.output) {}
        while read(.error) {}
        closeAll()
    }

    private mutating func writeInput() {
        while written < pending.count {
            let count = pending.withUnsafeBytes { raw in
                send(ends.input, raw.baseAddress! + written, raw.count - written, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if count > 0 {
                written += count
                continue
            }
            let code = Errno.current
            if count < 0 && code == .interrupted { continue }
            if count < 0 && code == .wouldBlock { return }
            break  // the child closed its input (EPIPE): it has read all it wanted
        }
        closeInput()
    }

    private mutating func closeInput() {
        close(ends.input)
        ends.input = -1
    }

    private enum Stream {
        case output
        case error
    }

    /// Reads what is available from one stream; closes it at end of file or on an error.
    /// - Returns: whether more may be waiting (the round stopped at its chunk count).
    @discardableResult
    private mutating func read(_ stream: Stream) -> Bool {
        let fd = stream == .output ? ends.output : ends.error
        guard fd >= 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        var finished = false
        var more = true
        // One `poll` round reads what is there now, and at most a few chunks: a child that writes
        // without pause cannot keep this loop from looking at the deadline and the other streams.
        for _ in 0..<16 {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                keep(chunk[0..<count], stream)
                continue
            }
            let code = Errno.current
            if count < 0 && code == .interrupted { continue }
            finished = !(count < 0 && code == .wouldBlock)
            more = false
            break
        }
        if finished {
            close(fd)
            if stream == .output { ends.output = -1 } else { ends.error = -1 }
        }
        return more
    }

    /// Appends `bytes` to the stream's buffer up to the limit; drops (and notes) the rest.
    private mutating func keep(_ bytes: ArraySlice<UInt8>, _ stream: Stream) {
        let room = max(0, limit - (stream == .output ? output.count : error.count))
        if bytes.count > room { truncated = true }
        if stream == .output {
            output.append(contentsOf: bytes.prefix(room))
        } else {
            error.append(contentsOf: bytes.prefix(room))
        }
    }

    mutating func closeAll() {
        for fd in [ends.input, ends.output, ends.error] where fd >= 0 { close(fd) }
        ends = ChildProcess.ParentEnds()
    }
}

/// Connects a task's cancellation to the child it is waiting for, whichever comes first.
private final class CancellationSlot: Sendable {
    private let state = Mutex<(cancelled: Bool, child: ChildProcess?)>((false, nil))

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    func attach(_ child: ChildProcess) {
        let cancelled = state.withLock { state in
            state.child = child
            return state.cancelled
        }
        if cancelled { child.signal(SIGKILL) }
    }

    func cancel() {
        let child = state.withLock { state in
            state.cancelled = true
            return state.child
        }
        child?.signal(SIGKILL)
    }
}

extension Duration {
    /// `30 s`, `1.5 s`.
    var formattedSeconds: String {
        let (seconds, attoseconds) = components
        let tenths = attoseconds / 100_000_000_000_000_000
        return tenths == 0 ? "\(seconds) s" : "\(seconds).\(tenths) s"
    }
}
