import Glibc
import IPsecSystem
import IPsecTestKit
import Keying
import Synchronization
import Testing

/// The fake charon itself: what the keying tests rely on.
@Suite struct FakeViciServerTests {
    /// An answer is sent under the lock under which events are broadcast: an event sent while a large
    /// answer is still being written never lands inside the answer's frame. Requests go on until events
    /// came while an answer was awaited (at least three answers): at load the broadcasting thread can
    /// start after three answers of 420 kB have come and gone, and then nothing was tested.
    @Test func anEventNeverLandsInsideAnAnswer() async throws {
        let directory = TemporaryDirectory(prefix: "vici")
        // Larger than a socket's buffer: written in many pieces while the client reads slowly.
        let large: ViciMessage = ["blob": .list(Array(repeating: Array(repeating: 0x41, count: 60_000), count: 7))]
        let server = try FakeViciServer(path: directory.file("charon.vici")) { packet, _ in
            if case .request = packet { [.response(large)] } else { nil }
        }
        defer {
            server.stop()
            directory.remove()
        }
        let path = server.path
        typealias Outcome = (answers: Int, broken: Int, eventsWhileAwaited: Int, error: String?)
        let outcome: Outcome = try await offThePool("vici-raw") {
            let fd = try Self.connect(path)
            defer { close(fd) }
            try Self.send(fd, .register("ike-updown"))
            var reader = ViciFrameReader()
            guard case .confirm = try Self.receive(fd, &reader) else { return (0, 0, 0, "no confirmation") }
            let done = Flag()
            try DedicatedThread.start(name: "vici-events") {
                while !done.value.load(ordering: .relaxed) {
                    server.broadcast("ike-updown", ["up": "yes"])
                    usleep(100)
                }
            }
            defer { done.value.store(true, ordering: .relaxed) }
            var answers = 0
            var broken = 0
            var eventsWhileAwaited = 0
            // At most 1,000 requests: a hang guard, not a bound (one or two do at rest).
            for _ in 0..<1000 where answers < 3 || eventsWhileAwaited == 0 {
                try Self.send(fd, .request("list", [:]))
                while true {
                    do {
                        let packet = try Self.receive(fd, &reader)
                        if case .response(let message) = packet {
                            answers += 1
                            // Counted, not kept: a failure must not print answers of 420 kB.
                            if message != large { broken += 1 }
                            break
                        }
                        if case .event = packet { eventsWhileAwaited += 1 }
                    } catch {
                        return (answers, broken, eventsWhileAwaited, "\(error)")
                    }
                }
            }
            return (answers, broken, eventsWhileAwaited, nil)
        }
        #expect(outcome.error == nil)
        #expect(outcome.broken == 0, "\(outcome.broken) of \(outcome.answers) answers broken")
        #expect(outcome.answers >= 3)
        #expect(outcome.eventsWhileAwaited > 0, "no event came while an answer was awaited")
    }

    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    struct RawError: Error, CustomStringConvertible {
        var description: String
    }

    static func connect(_ path: String) throws -> Int32 {
        let fd = try UnixStreamClient.connect(path)
        // Blocking, read in small pieces; a broken server must fail the test, not hang it.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        // A hang guard (the server's threads can wait long for a CPU at load).
        var limit = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func send(_ fd: Int32, _ packet: ViciPacket) throws {
        let bytes = try ViciWire.frame(packet)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else { throw RawError(description: "send: errno \(errno)") }
            offset += written
        }
    }

    /// The next packet, read in small pieces (so the server writes a large answer in many sends).
    static func receive(_ fd: Int32, _ reader: inout ViciFrameReader) throws -> ViciPacket {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let packet = try reader.next() { return packet }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw RawError(description: "read: \(count < 0 ? "errno \(errno)" : "closed")") }
            reader.append(buffer[0..<count])
        }
    }
}
