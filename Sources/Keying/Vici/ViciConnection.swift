import Glibc
import IPsecSystem
import Synchronization

/// What one exchange waits for and what it received.
struct ViciReply: Sendable {
    /// The response or (de)registration answer that ended the exchange.
    var packet: ViciPacket
    /// Events of the streamed kind that arrived before it (`list-sa`, `control-log`, ...).
    var streamed: [ViciMessage]
}

/// One connection to charon's vici socket, served by a thread of its own.
///
/// The thread does all socket I/O (never the cooperative pool): it writes queued packets, cuts
/// what arrives into packets, hands the one outstanding exchange its answer and the events of its
/// streamed kind, and yields every other event to ``events``. The user runs one exchange at a time
/// (vici has no sequence numbers); ``ViciClient`` guarantees that. A timeout, a malformed packet or
/// the daemon closing ends the connection, and every waiter learns why.
final class ViciConnection: Sendable {
    private struct Pending {
        var label: String
        /// `true`: ends on CMD_RESPONSE / CMD_UNKNOWN; `false`: on EVENT_CONFIRM / EVENT_UNKNOWN.
        var wantsResponse: Bool
        var stream: String?
        var streamed: [ViciMessage] = []
        var deadline: ContinuousClock.Instant
        var timeoutMilliseconds: Int
        var continuation: CheckedContinuation<Result<ViciReply, ViciError>, Never>
    }

    private struct State {
        var outgoing: [UInt8] = []
        var pending: Pending?
        var ended: ViciError?
        var closing = false
    }

    private let socket: Int32
    /// The wake-up pipe's ends: the thread polls `wakeup`, callers write to `wakeupWriter`.
    private let wakeup: Int32
    private let wakeupWriter: Int32
    private let state = Mutex(State())
    /// Events that no exchange streams: the registered kinds (`ike-updown`, ...).
    let events: AsyncStream<(name: String, message: ViciMessage)>
    private let eventSink: AsyncStream<(name: String, message: ViciMessage)>.Continuation
    /// Finished by the thread once it has released the socket.
    private let finished = LoopEnd()

    /// Connects to `path` and starts the connection's thread.
    /// - Throws: ``ViciError/unavailable(_:)`` when charon does not listen there.
    init(path: String) throws(ViciError) {
        do {
            socket = try UnixStreamClient.connect(path)
        } catch {
            throw .unavailable("\(error)")
        }
        do {
            (wakeup, wakeupWriter) = try Descriptors.pipe(nonBlocking: true)
        } catch {
            UnixStreamClient.close(socket)
            throw .system("\(error)")
        }
        (events, eventSink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(4096))
        do {
            try DedicatedThread.start(name: "ipsecsvc-vici") { [self] in serve() }
        } catch {
            UnixStreamClient.close(socket)
            UnixStreamClient.close(wakeup)
            UnixStreamClient.close(wakeupWriter)
            throw .system("\(error)")
        }
    }

    /// Why the connection ended, `nil` while it is open.
    var endReason: ViciError? { state.withLock { $0.ended } }

    /// Sends `packet` and waits for the answer that ends its exchange.
    /// - Parameters:
    ///   - stream: events of this name that arrive meanwhile belong to the exchange.
    ///   - timeout: how long to wait; on expiry the connection is closed.
    func exchange(
        _ packet: ViciPacket,
        label: String,
        stream: String? = nil,
        timeout: Duration
    ) async throws(ViciError) -> ViciReply {
        let bytes: [UInt8]
        do {
            bytes = try ViciWire.frame(packet)
        } catch {
            throw .protocolViolation("cannot encode '\(label)': \(error)")
        }
        let wantsResponse: Bool =
            switch packet {
            case .request: true
            case .register, .unregister: false
            default: preconditionFailure("a client only sends requests and (de)registrations")
            }
        let milliseconds = Int(timeout.wholeMilliseconds)
        let result = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<ViciReply, ViciError>, Never>) in
            let refused: ViciError? = state.withLock { state in
                if let ended = state.ended { return ended }
                if state.pending != nil { return .protocolViolation("two exchanges at once on one connection") }
                state.pending = Pending(
                    label: label,
                    wantsResponse: wantsResponse,
                    stream: stream,
                    deadline: .now + timeout,
                    timeoutMilliseconds: milliseconds,
                    continuation: continuation
                )
                state.outgoing += bytes
                // Under the lock: the thread closes the pipe under it too, so no write can hit a
                // reused descriptor.
                UnixStreamClient.wake(wakeupWriter)
                return nil
            }
            if let refused { continuation.resume(returning: .failure(refused)) }
        }
        return try result.get()
    }

    /// Closes the connection and waits until its thread has released the socket.
    func close() async {
        state.withLock { state in
            state.closing = true
            if state.ended == nil { UnixStreamClient.wake(wakeupWriter) }
        }
        await finished.wait()
    }

    // MARK: - The connection thread

    private func serve() {
        var reader = ViciFrameReader()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { buffer.deallocate() }
        var reason: ViciError = .disconnected
        loop: while true {
            let (wantWrite, timeout, closing) = state.withLock { state -> (Bool, Int32, Bool) in
                var wait: Int32 = -1
                if let pending = state.pending {
                    let left = ContinuousClock.now.duration(to: pending.deadline)
                    wait = Int32(clamping: max(0, left.wholeMilliseconds + 1))
                }
                return (!state.outgoing.isEmpty, wait, state.closing)
            }
            if closing {
                reason = .disconnected
                break
            }
            let revents: (socket: Int16, wakeup: Int16)
            do {
                revents = try UnixStreamClient.poll(
                    socket,
                    wantWrite: wantWrite,
                    wakeup: wakeup,
                    timeoutMilliseconds: timeout
                )
            } catch {
                reason = .system("\(error)")
                break
            }
            if revents.wakeup != 0 { UnixStreamClient.drain(wakeup) }
            if revents.socket & Int16(POLLOUT) != 0 {
                let chunk = state.withLock { $0.outgoing[...] }
                do {
                    switch try UnixStreamClient.write(socket, chunk) {
                    case .bytes(let count): state.withLock { $0.outgoing.removeFirst(count) }
                    case .wouldBlock: break
                    case .closed:
                        reason = .disconnected
                        break loop
                    }
                } catch {
                    reason = .system("\(error)")
                    break
                }
            }
            if revents.socket & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                do {
                    readAvailable: while true {
                        switch try UnixStreamClient.read(socket, into: buffer) {
                        case .bytes(let count):
                            reader.append(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                        case .wouldBlock: break readAvailable
                        case .closed:
                            try deliver(&reader)
                            reason = .disconnected
                            break loop
                        }
                    }
                    try deliver(&reader)
                } catch let error as ViciError {
                    reason = error
                    break
                } catch {
                    reason = .system("\(error)")
                    break
                }
            }
            let expired: Pending? = state.withLock { state in
                guard let pending = state.pending, ContinuousClock.now >= pending.deadline else { return nil }
                state.pending = nil
                return pending
            }
            if let expired {
                let error = ViciError.timeout(command: expired.label, milliseconds: expired.timeoutMilliseconds)
                expired.continuation.resume(returning: .failure(error))
                reason = error
                break
            }
        }
        end(reason)
    }

    /// Hands every whole packet received to its receiver.
    private func deliver(_ reader: inout ViciFrameReader) throws(ViciError) {
        while true {
            let packet: ViciPacket?
            do {
                packet = try reader.next()
            } catch {
                throw .protocolViolation("\(error)")
            }
            guard let packet else { return }
            switch packet {
            case .event(let name, let message):
                let streamed = state.withLock { state -> Bool in
                    guard state.pending?.stream == name else { return false }
                    state.pending!.streamed.append(message)
                    return true
                }
                if !streamed { eventSink.yield((name, message)) }
            case .response, .unknownCommand, .confirm, .unknownEvent:
                let isResponse: Bool =
                    switch packet {
                    case .response, .unknownCommand: true
                    default: false
                    }
                let done = state.withLock { state -> Pending? in
                    guard let pending = state.pending, pending.wantsResponse == isResponse else { return nil }
                    state.pending = nil
                    return pending
                }
                guard let done else { throw .protocolViolation("an answer nobody asked for: \(packet)") }
                done.continuation.resume(returning: .success(ViciReply(packet: packet, streamed: done.streamed)))
            case .request, .register, .unregister:
                throw .protocolViolation("the daemon sent a client packet")
            }
        }
    }

    private func end(_ reason: ViciError) {
        let pending = state.withLock { state -> Pending? in
            state.ended = reason
            state.outgoing = []
            UnixStreamClient.close(socket)
            UnixStreamClient.close(wakeup)
            UnixStreamClient.close(wakeupWriter)
            defer { state.pending = nil }
            return state.pending
        }
        pending?.continuation.resume(returning: .failure(reason))
        eventSink.finish()
        finished.finish()
    }
}

extension Duration {
    /// The duration in whole milliseconds (rounded towards zero).
    var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
