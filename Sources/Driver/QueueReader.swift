import CNetfilterQueue
import DecisionCore
import IPsecSystem
import PolicyModel
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Tunables of the queue readers.
public struct QueueReaderSettings: Hashable, Sendable {
    /// Bytes of each packet copied to user space: every header the driver reads fits in 128.
    public var copyRange: UInt32
    /// Kernel queue length: packets waiting for a verdict before the kernel drops (bursts).
    public var maxQueueLength: UInt32
    /// Socket receive buffer in bytes.
    public var receiveBuffer: Int32
    /// Longest run of equal verdicts sent as one batch message.
    public var maxBatch: Int
    /// Per-packet drop events per second and reader at most.
    public var eventsPerSecond: Double
    /// For nfq-bench's connmark mode: the mark bits to set on fast-path verdicts instead of the epoch.
    public var fixedFlowMark: UInt32?

    public init(
        copyRange: UInt32 = 128,
        maxQueueLength: UInt32 = 8192,
        receiveBuffer: Int32 = 8 << 20,
        maxBatch: Int = 64,
        eventsPerSecond: Double = 20,
        fixedFlowMark: UInt32? = nil
    ) {
        self.copyRange = copyRange
        self.maxQueueLength = maxQueueLength
        self.receiveBuffer = receiveBuffer
        self.maxBatch = maxBatch
        self.eventsPerSecond = eventsPerSecond
        self.fixedFlowMark = fixedFlowMark
    }
}

/// One NFQUEUE reader: a netlink socket bound to one queue and the thread that serves it.
///
/// The thread never runs on the Swift cooperative pool: it blocks in `recv()` (with a short
/// timeout so that it notices ``stop()``), decides each packet with the ``ReaderContext`` current
/// at the start of the burst, and answers in FIFO order, runs of equal verdicts as one
/// `NFQNL_MSG_VERDICT_BATCH`.
final class QueueReader: @unchecked Sendable {
    // @unchecked Sendable, audited: `socket` (a C handle) is used by the reader thread only once
    // `start()` ran, and closed by that thread on exit; the other stored properties are immutable or
    // Sendable (Atomic, Mutex-based classes).
    let queue: UInt16
    private let socket: OpaquePointer
    private let cell: ContextCell
    private let statistics: DriverStatistics
    private let sink: any DriverEventSink
    private let keying: (any KeyingRequestSink)?
    private let settings: QueueReaderSettings
    private let stopping = Atomic<Bool>(false)
    private let exited = LoopEnd()

    /// Opens a socket, binds `queue` and configures it.
    /// - Throws: ``SystemError`` about `netfilter queue` (not root, queue already bound by another
    ///   process, ...).
    init(
        queue: UInt16,
        cell: ContextCell,
        statistics: DriverStatistics,
        sink: any DriverEventSink,
        keying: (any KeyingRequestSink)? = nil,
        settings: QueueReaderSettings
    ) throws(SystemError) {
        guard let socket = cnfq_open() else { throw SystemError("open netlink socket", path: "netfilter queue") }
        let tuned = cnfq_tune_socket(socket, settings.receiveBuffer, 200)
        if tuned < 0 {
            mnl_socket_close(socket)
            throw SystemError("configure socket", path: "netfilter queue", errno: Errno(rawValue: -tuned))
        }
        var result = cnfq_bind_queue(socket, UInt32(queue))
        if result == 0 {
            result = cnfq_set_params(socket, UInt32(queue), settings.copyRange, settings.maxQueueLength, 1)
        }
        if result < 0 {
            mnl_socket_close(socket)
            throw SystemError("bind queue \(queue)", path: "netfilter queue", errno: Errno(rawValue: -result))
        }
        self.queue = queue
        self.socket = socket
        self.cell = cell
        self.statistics = statistics
        self.sink = sink
        self.keying = keying
        self.settings = settings
    }

    /// Starts the reader thread, which owns the socket from then on.
    /// - Throws: ``SystemError`` when no thread can be created; the socket is then still open.
    func start() throws(SystemError) {
        try DedicatedThread.start(name: "ipsecsvc-nfq-\(queue)") { [self] in
            run()
            mnl_socket_close(socket)
            exited.finish()
        }
    }

    /// Closes the socket of a reader whose thread was never started.
    func closeUnstarted() {
        mnl_socket_close(socket)
    }

    /// Asks the thread to finish and waits until it closed the socket (unbinding the queue).
    func stop() async {
        stopping.store(true, ordering: .relaxed)
        await exited.wait()
    }

    /// The pending run of equal verdicts.
    private struct Run {
        var verdict: UInt32
        var setMark: Bool
        var mark: UInt32
        var lastID: UInt32
        var count: Int
    }

    private func run() {
        // One buffer per message of a recvmmsg burst: a queued packet's message is its copied bytes
        // (the copy range) plus well under 1 KiB of netlink attributes.
        let slotSize = (Int(settings.copyRange) + 4096 + 1023) & ~1023
        let batch = 32
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: slotSize * batch, alignment: 16)
        defer { buffer.deallocate() }
        let lengths = UnsafeMutablePointer<UInt32>.allocate(capacity: batch)
        defer { lengths.deallocate() }
        var local = ReaderCounters()
        var hits: [(index: Int32, bytes: UInt32, dropped: Bool)] = []
        hits.reserveCapacity(1024)
        var events: [String] = []
        var limiter = EventRateLimiter(rate: settings.eventsPerSecond)
        var pending: Run?
        var requests = KeyingRequestLimiter()
        let accept = cnfq_verdict_accept()
        let drop = cnfq_verdict_drop()

        func send(_ run: Run) {
            let result = cnfq_send_verdict(
                socket,
                UInt32(queue),
                run.count > 1 ? 1 : 0,
                run.lastID,
                run.verdict,
                run.setMark ? 1 : 0,
                run.mark
            )
            local.verdictMessages &+= 1
            if result < 0 { local.sendErrors &+= 1 }
        }

        while !stopping.load(ordering: .relaxed) {
            // One system call per burst: blocks for the first message, takes what else is queued.
            let received = cnfq_receive_batch(socket, buffer, slotSize, UInt32(batch), lengths)
            if received < 0 {
                // EAGAIN: the receive timeout expired (time to look at `stopping`); EINTR: a signal.
                let code = Errno(rawValue: -received)
                if code != .wouldBlock && code != .interrupted { local.receiveErrors &+= 1 }
                continue
            }
            let context = cell.current
            let flowMask = context.marks.flowMask
            let flowMark = settings.fixedFlowMark ?? context.marks.flowMark(epoch: context.epoch)
            let diagnostics = DiagnosticsLevel(context.diagnosticsLevel)
            for index in 0..<Int(received) {
                let length = Int(lengths[index])
                guard length <= slotSize else {
                    local.netlinkErrors &+= 1
                    continue
                }
                var remaining = Int32(length)
                var message = cnfq_first_message(buffer + index * slotSize, remaining)
                while let current = message {
                    var packet = cnfq_packet()
                    let parsed = cnfq_parse_message(current, &packet)
                    if parsed == 1 {
                        let decided = context.decision.decide(
                            packet: UnsafeRawBufferPointer(start: packet.payload, count: Int(packet.payload_len)),
                            hook: packet.hook,
                            mark: packet.mark,
                            inInterface: packet.indev,
                            outInterface: packet.outdev
                        )
                        let direction = decided.direction
                        let decision = decided.decision
                        let key = decided.key
                        let bytes = UInt32(truncatingIfNeeded: decided.length)
                        if direction == .inbound { local.inboundPackets &+= 1 } else { local.outboundPackets &+= 1 }
                        if decided.fragment { local.fragments &+= 1 }
                        if let keying,
                            let request = requests.request(
                                for: decision,
                                key: key,
                                direction: direction,
                                table: context.table
                            )
                        {
                            keying.submit(request)
                        }
                        let reason = decision.reason.rawValue
                        local.reasonPackets[reason] &+= 1
                        local.reasonBytes[reason] &+= UInt64(bytes)
                        let accepted = decision.accepts
                        if let filter = decision.filter {
                            hits.append((Int32(filter), bytes, !accepted))
                        }
                        if !accepted && diagnostics.logs(decision.reason, direction) {
                            if limiter.allow() {
                                events.append(dropEventText(key, direction, decision, context.table))
                            } else {
                                local.suppressedEvents &+= 1
                            }
                        }
                        var setMark = false
                        var mark: UInt32 = 0
                        if accepted && decision.fastPath {
                            setMark = true
                            mark =
                                settings.fixedFlowMark.map { packet.mark | $0 } ?? (packet.mark & ~flowMask | flowMark)
                            local.fastPathMarked &+= 1
                        }
                        let verdict = accepted ? accept : drop
                        // FIFO: a run of equal verdicts goes out as one batch message covering every
                        // packet up to its last id; a different verdict flushes the run first.
                        if var run = pending, run.verdict == verdict, run.setMark == setMark, run.mark == mark,
                            run.count < settings.maxBatch
                        {
                            run.lastID = packet.id
                            run.count += 1
                            pending = run
                        } else {
                            if let run = pending { send(run) }
                            pending = Run(verdict: verdict, setMark: setMark, mark: mark, lastID: packet.id, count: 1)
                        }
                    } else if parsed < 0 {
                        local.netlinkErrors &+= 1
                    }
                    message = cnfq_next_message(current, &remaining)
                }
            }
            if let run = pending {
                send(run)
                pending = nil
            }
            if !hits.isEmpty {
                context.counters.values.withLock { values in
                    for hit in hits {
                        let index = Int(hit.index)
                        values.packets[index] &+= 1
                        values.bytes[index] &+= UInt64(hit.bytes)
                        if hit.dropped { values.drops[index] &+= 1 }
                    }
                }
                hits.removeAll(keepingCapacity: true)
            }
            statistics.merge(local, mode: context.mode)
            local.reset()
            if !events.isEmpty {
                for event in events { sink.event(event, priority: 4) }
                events.removeAll(keepingCapacity: true)
            }
        }
    }
}

extension ReaderCounters {
    /// Zeroes every counter without reallocating.
    mutating func reset() {
        for index in reasonPackets.indices {
            reasonPackets[index] = 0
            reasonBytes[index] = 0
        }
        inboundPackets = 0
        outboundPackets = 0
        fragments = 0
        fastPathMarked = 0
        verdictMessages = 0
        sendErrors = 0
        netlinkErrors = 0
        receiveErrors = 0
        suppressedEvents = 0
    }
}
