import Dispatch
import Foundation
import Synchronization

/// `ipsecsvc-driver-harness probe --permitted A:P --blocked A:P [--stream A:P] [--interval-ms 10]
/// [--timeout-ms 900]`: probes a permitted and a blocked TCP port every interval until SIGTERM, and
/// optionally keeps one TCP stream to an echo server (`echo PORT`) sending a byte every interval.
///
/// A permitted probe fails when its connection is not established within the timeout (below TCP's
/// first SYN retransmission at 1 s: a failure means a lost packet); a blocked probe leaks when its
/// connection is established at all; a stream byte is lost when its echo does not come back within the
/// timeout, or the stream breaks. On SIGTERM or SIGINT it prints one line:
/// `probe: permitted A failed F; blocked B leaked L; stream S lost X` and exits 0.
func runProbe(_ arguments: [String]) -> Int32 {
    var options: [String: String] = [:]
    var rest = arguments[...]
    while let flag = rest.popFirst() {
        guard flag.hasPrefix("--"), let value = rest.popFirst() else { return 2 }
        options[String(flag.dropFirst(2))] = value
    }
    guard let permitted = options["permitted"].flatMap(Endpoint.init),
        let blocked = options["blocked"].flatMap(Endpoint.init)
    else { return 2 }
    let stream = options["stream"].flatMap(Endpoint.init)
    let interval = Int(options["interval-ms"] ?? "") ?? 10
    let timeout = Int(options["timeout-ms"] ?? "") ?? 900
    let stop = StopFlag()
    let sources = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { stop.value.store(true, ordering: .relaxed) }
        source.resume()
        return source
    }
    defer { _ = sources }
    var prober = Prober(permitted: permitted, blocked: blocked, stream: stream, timeoutMs: timeout)
    var next = Prober.now()
    while !stop.value.load(ordering: .relaxed) {
        if Prober.now() >= next {
            prober.launch()
            next += UInt64(interval) * 1_000_000
        }
        prober.wait(untilNanoseconds: next)
    }
    prober.finish()
    say(prober.summary)
    return 0
}

/// Set from the signal source's queue, read by the probe loop.
final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}

struct Endpoint {
    var address: in_addr_t
    var port: UInt16

    init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let address = inet_addr_checked(String(parts[0])), let port = UInt16(parts[1]) else {
            return nil
        }
        self.address = address
        self.port = port
    }

    var socketAddress: sockaddr_in {
        var result = sockaddr_in()
        result.sin_family = sa_family_t(AF_INET)
        result.sin_addr.s_addr = address
        result.sin_port = port.bigEndian
        return result
    }
}

/// The probes in flight and the counts.
struct Prober {
    struct Attempt {
        var fd: Int32
        var permitted: Bool
        var deadline: UInt64
    }

    let permitted: Endpoint
    let blocked: Endpoint
    let streamTarget: Endpoint?
    let timeoutNs: UInt64
    var attempts: [Attempt] = []
    var permittedCount = 0
    var permittedFailed = 0
    var blockedCount = 0
    var blockedLeaked = 0
    var stream: Int32 = -1
    /// Send times of stream bytes whose echo has not come back, oldest first.
    var unanswered: [UInt64] = []
    var streamSent = 0
    var streamLost = 0
    let started = Prober.now()
    var firstFailure: UInt64?

    init(permitted: Endpoint, blocked: Endpoint, stream: Endpoint?, timeoutMs: Int) {
        self.permitted = permitted
        self.blocked = blocked
        self.streamTarget = stream
        timeoutNs = UInt64(timeoutMs) * 1_000_000
    }

    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    var summary: String {
        var text =
            "probe: permitted \(permittedCount) failed \(permittedFailed); blocked \(blockedCount) leaked \(blockedLeaked); "
            + "stream \(streamSent) lost \(streamLost)"
        if let firstFailure { text += "; first failure at +\((firstFailure - started) / 1_000_000) ms" }
        return text
    }

    /// Starts one probe of each kind and sends one stream byte.
    mutating func launch() {
        for (endpoint, isPermitted) in [(permitted, true), (blocked, false)] {
            let fd = Self.connectNonBlocking(endpoint)
            guard fd >= 0 else { continue }
            attempts.append(Attempt(fd: fd, permitted: isPermitted, deadline: Self.now() + timeoutNs))
        }
        guard let target = streamTarget else { return }
        if stream < 0 {
            stream = Self.connectBlocking(target)
            unanswered = []
            if stream < 0 {
                noteFailure()
                streamLost += 1
                return
            }
        }
        var byte: UInt8 = 0x2A
        if send(stream, &byte, 1, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) == 1 {
            streamSent += 1
            unanswered.append(Self.now())
        } else {
            breakStream()
        }
    }

    /// Polls the probes and the stream until `deadline` (monotonic ns) at the latest.
    mutating func wait(untilNanoseconds deadline: UInt64) {
        let now = Self.now()
        var descriptors = attempts.map { pollfd(fd: $0.fd, events: Int16(POLLOUT), revents: 0) }
        if stream >= 0 { descriptors.append(pollfd(fd: stream, events: Int16(POLLIN), revents: 0)) }
        let milliseconds = deadline > now ? Int32((deadline - now + 999_999) / 1_000_000) : 0
        _ = poll(&descriptors, nfds_t(descriptors.count), milliseconds)
        let after = Self.now()
        var kept: [Attempt] = []
        for (index, attempt) in attempts.enumerated() {
            let events = descriptors[index].revents
            if events != 0 {
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(attempt.fd, SOL_SOCKET, SO_ERROR, &error, &length)
                let established = error == 0 && events & Int16(POLLOUT) != 0 && events & Int16(POLLERR | POLLHUP) == 0
                record(attempt, established: established)
                close(attempt.fd)
            } else if after >= attempt.deadline {
                record(attempt, established: false)
                close(attempt.fd)
            } else {
                kept.append(attempt)
            }
        }
        attempts = kept
        if stream >= 0, let last = descriptors.last, last.revents != 0 {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(stream, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 {
                unanswered.removeFirst(min(count, unanswered.count))
            } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                breakStream()
            }
        }
        if stream >= 0, let oldest = unanswered.first, after - oldest > timeoutNs {
            breakStream()
        }
    }

    mutating func record(_ attempt: Attempt, established: Bool) {
        if attempt.permitted {
            permittedCount += 1
            if !established {
                permittedFailed += 1
                noteFailure()
            }
        } else {
            blockedCount += 1
            if established {
                blockedLeaked += 1
                noteFailure()
            }
        }
    }

    mutating func noteFailure() {
        if firstFailure == nil { firstFailure = Self.now() }
    }

    /// The stream lost a byte (or broke): count what is unanswered and start a new one next time.
    mutating func breakStream() {
        streamLost += max(1, unanswered.count)
        noteFailure()
        unanswered = []
        if stream >= 0 { close(stream) }
        stream = -1
    }

    /// Waits for the probes still in flight (up to their deadline) and counts them.
    mutating func finish() {
        while !attempts.isEmpty { wait(untilNanoseconds: attempts.map(\.deadline).min()!) }
        if stream >= 0 {
            // Bytes sent just now may still be on their way back.
            let end = Self.now() + timeoutNs
            while !unanswered.isEmpty, stream >= 0, Self.now() < end { wait(untilNanoseconds: end) }
            if stream >= 0, !unanswered.isEmpty { breakStream() }
            if stream >= 0 { close(stream) }
        }
    }

    static func connectNonBlocking(_ endpoint: Endpoint) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var address = endpoint.socketAddress
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return fd
    }

    /// A stream connection, established within a second, or -1.
    static func connectBlocking(_ endpoint: Endpoint) -> Int32 {
        let fd = connectNonBlocking(endpoint)
        guard fd >= 0 else { return -1 }
        var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if poll(&descriptor, 1, 1000) == 1, getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 {
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return fd
        }
        close(fd)
        return -1
    }
}

/// `ipsecsvc-driver-harness echo PORT`: a TCP echo server for the probe's stream (every byte comes back).
func runEcho(_ arguments: [String]) -> Int32 {
    guard let port = arguments.first.flatMap({ UInt16($0) }) else { return 2 }
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    let bound = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    // A deep backlog: the probe connects every 10 ms, and an echo server starved for a while on a loaded
    // machine must not drop SYNs from a full accept queue (which would count as packets the driver lost).
    guard bound == 0, listen(listener, 4096) == 0 else { return 1 }
    say("echo: listening on \(port)")
    var descriptors = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        guard poll(&descriptors, nfds_t(descriptors.count), -1) > 0 else { continue }
        var closed: Set<Int32> = []
        for descriptor in descriptors where descriptor.revents != 0 {
            if descriptor.fd == listener {
                let connection = accept(listener, nil, nil)
                if connection >= 0 {
                    setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    descriptors.append(pollfd(fd: connection, events: Int16(POLLIN), revents: 0))
                }
                continue
            }
            let count = recv(descriptor.fd, &buffer, buffer.count, 0)
            if count <= 0 || send(descriptor.fd, buffer, count, Int32(MSG_NOSIGNAL)) != count {
                close(descriptor.fd)
                closed.insert(descriptor.fd)
            }
        }
        descriptors.removeAll { closed.contains($0.fd) }
        for index in descriptors.indices { descriptors[index].revents = 0 }
    }
}

/// `ipsecsvc-driver-harness stream A:P`: one TCP connection to an echo server, never replaced, sending a
/// byte every 10 ms; prints `stream: flowing` and `stream: stalled` (no echo for 300 ms) whenever that
/// changes, with the milliseconds since the start. A stalled connection keeps its conntrack entry (the
/// kernel retransmits), so a test can see whether a connection fast-pathed long ago passes again.
func runStream(_ arguments: [String]) -> Int32 {
    guard let target = arguments.first.flatMap(Endpoint.init) else { return 2 }
    let fd = Prober.connectBlocking(target)
    guard fd >= 0 else {
        say("stream: cannot connect")
        return 1
    }
    let started = Prober.now()
    var lastEcho = started
    var flowing: Bool?
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        var byte: UInt8 = 0x2A
        _ = send(fd, &byte, 1, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, 10) > 0 {
            let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 { lastEcho = Prober.now() }
            if count == 0 {
                say("stream: closed")
                return 1
            }
        }
        let now = Prober.now()
        let state = now - lastEcho < 300_000_000
        if state != flowing {
            flowing = state
            say("stream: \(state ? "flowing" : "stalled") at +\((now - started) / 1_000_000) ms")
        }
    }
}

/// `ipsecsvc-driver-harness exec-clean PROGRAM ARGS...`: runs PROGRAM with no descriptor beyond 0–2 open
/// (as systemd starts a service), so that a test can tell the service's own descriptors from ones it
/// would inherit from the test process.
func runExecClean(_ arguments: [String]) -> Int32 {
    guard let program = arguments.first else { return 2 }
    let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    for fd in open.compactMap({ Int32($0) }) where fd > 2 { close(fd) }
    let argv = arguments.map { strdup($0) } + [nil]
    execvp(program, argv)
    return 127
}
