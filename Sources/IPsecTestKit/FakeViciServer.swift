import Glibc
import IPsecSystem
public import Keying
public import Synchronization

/// A stand-in for charon's vici socket: a Unix socket server whose answers a test scripts.
///
/// Each accepted connection gets a thread of its own (never the cooperative pool) that reads
/// packets and answers with what ``handler`` returns for each. Registrations are confirmed by the
/// server itself (and remembered, so ``broadcast(_:_:)`` reaches registered connections only),
/// unless the handler answers them. ``dropConnections()`` and ``stop()`` imitate charon restarting
/// and going away.
public final class FakeViciServer: Sendable {
    /// Answers one received packet: the packets to send back, in order (events first, then the
    /// response); `nil` lets the server answer a (de)registration itself.
    public typealias Handler = @Sendable (_ packet: ViciPacket, _ connection: Int) -> [ViciPacket]?

    private struct Client {
        var fd: Int32
        var registered: Set<String> = []
    }

    public let path: String
    private let handler: Mutex<Handler>
    private let listener = Mutex<Int32>(-1)
    private let clients = Mutex<[Int: Client]>([:])
    private let nextID = Atomic<Int>(0)
    /// Every packet received, with the connection number.
    public let received = Mutex<[(connection: Int, packet: ViciPacket)]>([])

    /// Listens on `path` (removed first if it exists).
    public init(path: String, handler: @escaping Handler = FakeViciServer.succeedEverything) throws {
        self.path = path
        self.handler = Mutex(handler)
        try start()
    }

    /// Answers every command with `success = yes`; the server confirms registrations.
    public static let succeedEverything: Handler = { packet, _ in
        if case .request = packet { [.response(["success": "yes"])] } else { nil }
    }

    /// Replaces the script.
    public func setHandler(_ handler: @escaping Handler) { self.handler.withLock { $0 = handler } }

    /// Starts listening again after ``stop()`` (charon came back).
    public func start() throws {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FakeServerError("socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw FakeServerError("bind/listen \(path): errno \(errno)")
        }
        listener.withLock { $0 = fd }
        try DedicatedThread.start(name: "fake-vici") { [self] in acceptLoop(fd) }
    }

    /// Stops listening and closes every connection (charon stopped).
    public func stop() {
        let fd = listener.withLock { fd in
            defer { fd = -1 }
            return fd
        }
        // Only shut down: the accept thread closes the listener when its accept fails. Closing it here
        // would free the number while that thread may still call accept on it, and every suite runs in
        // this process: it would then accept, answer and record another test's connections.
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
        unlink(path)
        dropConnections()
    }

    /// Closes every open connection, as a restarting charon does.
    public func dropConnections() {
        // Under the lock, which the serving thread takes to close its descriptor: never a reused number.
        clients.withLock { clients in
            for client in clients.values { shutdown(client.fd, Int32(SHUT_RDWR)) }
        }
    }

    /// How many connections are open.
    public var connectionCount: Int { clients.withLock { $0.count } }

    /// Sends an event to every connection registered for `name`.
    public func broadcast(_ name: String, _ message: ViciMessage) {
        clients.withLock { clients in
            for client in clients.values where client.registered.contains(name) {
                send(client.fd, [.event(name, message)])
            }
        }
    }

    /// The commands received, in order.
    public var commands: [String] {
        received.withLock { list in
            list.compactMap { entry in
                if case .request(let name, _) = entry.packet { name } else { nil }
            }
        }
    }

    /// The arguments of every `command` received, in order.
    public func arguments(of command: String) -> [ViciMessage] {
        received.withLock { list in
            list.compactMap { entry in
                if case .request(command, let message) = entry.packet { message } else { nil }
            }
        }
    }

    private func acceptLoop(_ fd: Int32) {
        defer { close(fd) }
        while true {
            guard let client = try? SocketAccept.connection(on: fd) else { return }
            let id = nextID.add(1, ordering: .relaxed).newValue
            // Sends happen under the clients' lock: a client that stops reading holds it 5 s at most.
            var limit = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            clients.withLock { $0[id] = Client(fd: client) }
            do {
                try DedicatedThread.start(name: "fake-vici-\(id)") { [self] in serve(client, id) }
            } catch {
                clients.withLock { _ = $0.removeValue(forKey: id) }
                close(client)
            }
        }
    }

    private func serve(_ fd: Int32, _ id: Int) {
        var reader = ViciFrameReader()
        var buffer = [UInt8](repeating: 0, count: 65536)
        defer {
            clients.withLock {
                _ = $0.removeValue(forKey: id)
                close(fd)
            }
        }
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            reader.append(buffer[0..<count])
            while let packet = try? reader.next() {
                received.withLock { $0.append((id, packet)) }
                let script = handler.withLock { $0 }
                let answer = script(packet, id)
                // Sent under the lock under which ``broadcast(_:_:)`` sends: an event never lands inside
                // an answer's frame (and a registration takes effect with its confirmation).
                clients.withLock { clients in
                    guard let answer else {
                        switch packet {
                        case .register(let name): clients[id]?.registered.insert(name)
                        case .unregister(let name): clients[id]?.registered.remove(name)
                        default: return
                        }
                        send(fd, [.confirm])
                        return
                    }
                    send(fd, answer)
                }
            }
        }
    }

    private func send(_ fd: Int32, _ packets: [ViciPacket]) {
        for packet in packets {
            guard let bytes = try? ViciWire.frame(packet) else { continue }
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes {
                    Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else {
                    // The client stopped reading (SO_SNDTIMEO) or left: the frame cannot be finished, and
                    // anything sent after a part of it would be read as garbage. Closed, as charon would.
                    shutdown(fd, Int32(SHUT_RDWR))
                    return
                }
                offset += written
            }
        }
    }
}

/// A fake server could not be set up.
public struct FakeServerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
