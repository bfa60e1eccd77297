import CNetfilterQueue
import DecisionCore
import IPsecSystem
public import PolicyModel
import Synchronization

/// The NFLOG prefix of a kernel-only drop rule: `ipsecsvc:<mode>:<in|out>`, parsed back by the reader.
public struct DropLogPrefix: Hashable, Sendable {
    /// `startup-stateful`, `startup-block`, `block` (``HookState/kernelDropMode``).
    public var mode: String
    public var direction: TrafficDirection

    public init(mode: String, direction: TrafficDirection) {
        self.mode = mode
        self.direction = direction
    }

    public var text: String { "ipsecsvc:\(mode):\(direction == .inbound ? "in" : "out")" }

    /// Parses ``text``; `nil` for any other prefix.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "ipsecsvc", !parts[1].isEmpty else { return nil }
        switch parts[2] {
        case "in": direction = .inbound
        case "out": direction = .outbound
        default: return nil
        }
        mode = String(parts[1])
    }
}

/// How many drop events the log reader wrote (shared with the driver's status).
final class DropLogCount: Sendable {
    let value = Atomic<UInt64>(0)
}

/// Reads the driver's NFLOG group: the packets the kernel-only modes (startup stateful and block,
/// operational block) drop, which never reach a queue. Each becomes a drop event worded like the
/// queue readers' (`dropped inbound tcp A:p -> B:q: startup block mode`); the kernel's `limit` match in
/// the log rule bounds how many arrive.
///
/// Its thread (`ipsecsvc-nflog`) never runs on the cooperative pool; it blocks in `recvmmsg` with a
/// 200 ms timeout so that it notices ``stop()``.
final class DropLogReader: @unchecked Sendable {
    // @unchecked Sendable, audited: `socket` (a C handle) is used by the reader thread only once
    // `start()` ran, and closed by that thread on exit; the other stored properties are immutable or
    // Sendable.
    let group: UInt16
    private let socket: OpaquePointer
    private let sink: any DriverEventSink
    private let logged: DropLogCount
    private let stopping = Atomic<Bool>(false)
    private let exited = LoopEnd()

    /// Opens a socket and binds NFLOG `group`.
    /// - Throws: ``SystemError`` about `netfilter log` (not root; `EBUSY`: another process reads the group).
    init(group: UInt16, sink: any DriverEventSink, logged: DropLogCount) throws(SystemError) {
        guard let socket = cnfq_open() else { throw SystemError("open netlink socket", path: "netfilter log") }
        let tuned = cnfq_tune_socket(socket, 1 << 20, 200)
        if tuned < 0 {
            mnl_socket_close(socket)
            throw SystemError("configure socket", path: "netfilter log", errno: Errno(rawValue: -tuned))
        }
        let bound = cnful_bind_group(socket, group, 128)
        if bound < 0 {
            mnl_socket_close(socket)
            throw SystemError("bind log group \(group)", path: "netfilter log", errno: Errno(rawValue: -bound))
        }
        self.group = group
        self.socket = socket
        self.sink = sink
        self.logged = logged
    }

    /// Starts the thread, which owns the socket from then on.
    /// - Throws: ``SystemError`` when no thread can be created; the socket is then closed.
    func start() throws(SystemError) {
        do {
            try DedicatedThread.start(name: "ipsecsvc-nflog") { [self] in
                run()
                mnl_socket_close(socket)
                exited.finish()
            }
        } catch {
            mnl_socket_close(socket)
            throw error
        }
    }

    /// Asks the thread to finish and waits until it closed the socket (unbinding the group).
    func stop() async {
        stopping.store(true, ordering: .relaxed)
        await exited.wait()
    }

    private func run() {
        let slotSize = 8192
        let batch = 16
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: slotSize * batch, alignment: 16)
        defer { buffer.deallocate() }
        let lengths = UnsafeMutablePointer<UInt32>.allocate(capacity: batch)
        defer { lengths.deallocate() }
        while !stopping.load(ordering: .relaxed) {
            let received = cnfq_receive_batch(socket, buffer, slotSize, UInt32(batch), lengths)
            if received < 0 { continue }  // the receive timeout (look at `stopping`), a signal, ENOBUFS
            for index in 0..<Int(received) {
                let length = Int(lengths[index])
                guard length <= slotSize else { continue }
                var remaining = Int32(length)
                var message = cnfq_first_message(buffer + index * slotSize, remaining)
                while let current = message {
                    var packet = cnful_packet()
                    if cnful_parse_message(current, &packet) == 1, let text = Self.eventText(packet) {
                        logged.value.add(1, ordering: .relaxed)
                        sink.event(text, priority: 4)
                    }
                    message = cnfq_next_message(current, &remaining)
                }
            }
        }
    }

    /// The event for one logged packet, or `nil` when it is not one of the driver's.
    static func eventText(_ packet: cnful_packet) -> String? {
        guard let cPrefix = packet.prefix, let prefix = DropLogPrefix(String(cString: cPrefix)) else { return nil }
        let bytes = UnsafeRawBufferPointer(start: packet.payload, count: Int(packet.payload_len))
        return eventText(bytes, prefix: prefix)
    }

    /// `dropped inbound tcp 198.18.0.1:1000 -> 198.18.0.2:23: startup block mode`.
    static func eventText(_ bytes: UnsafeRawBufferPointer, prefix: DropLogPrefix) -> String {
        let what: String
        switch parseIPv4(bytes) {
        case .ipv4(let key, _, _): what = "\(key)"
        case .notIPv4: what = "an IPv6 packet"
        case .malformed: what = "a malformed packet"
        }
        let mode = prefix.mode.replacingDashes()
        return "dropped \(prefix.direction.rawValue) \(what): \(mode) mode"
    }
}

extension String {
    /// `startup-block` → `startup block`.
    fileprivate func replacingDashes() -> String {
        String(map { $0 == "-" ? " " : $0 })
    }
}
