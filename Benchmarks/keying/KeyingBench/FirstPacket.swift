import Glibc
import IPsecSystem
import IPsecTestKit
import Keying

/// Time from the first packet to the first protected one, measured by the sender.
///
/// The peer's end (``echo(port:)``) runs behind a rule that drops clear datagrams from the sender
/// (`! -i ipsec0`), so only datagrams that came through the SA are echoed. The sender numbers its
/// datagrams, one per millisecond, and remembers when it sent each: the lowest number echoed is the
/// first protected packet, and its send time less the first datagram's is the figure. The return path
/// is not part of it, and every way of starting the negotiation is measured by the same code.
enum FirstPacket {
    /// What starts the negotiation at the first datagram besides the datagram itself.
    enum Starter {
        /// Nothing: the datagram (ipsecsvc's driver asks keying).
        case none
        /// A program (`swanctl --initiate ...`).
        case command([String])
        /// `initiate` on a vici connection opened beforehand: the daemon's own time, the floor.
        case vici(socket: String, ike: String, child: String)
    }

    static let tool = "ipsecsvc-keying-bench"
    static let interval: Duration = .milliseconds(1)
    static let limit: Duration = .seconds(30)

    /// Echoes every datagram on `port` back to its sender, until killed.
    static func echo(port: UInt16) -> Never {
        let socket = udpSocket()
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { BenchmarkSupport.fail(tool, "bind to port \(port): errno \(errno)") }
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            var from = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = withUnsafeMutablePointer(to: &from) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(socket, &buffer, buffer.count, 0, $0, &length)
                }
            }
            guard count > 0 else { continue }
            _ = withUnsafePointer(to: &from) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(socket, buffer, count, 0, $0, length)
                }
            }
        }
    }

    /// Sends to `peer`:`port` until a datagram comes back (starting `starter` at the first one) and
    /// prints `first-protected-ms X`; exits 1 when nothing came back within ``limit``.
    static func measure(peer: String, port: UInt16, starting starter: Starter) async {
        var client: ViciClient?
        if case .vici(let path, _, _) = starter {
            let opened = ViciClient(socketPath: path, defaultTimeout: limit)
            do {
                _ = try await opened.call("version")
            } catch {
                BenchmarkSupport.fail(tool, "charon at \(path): \(error)")
            }
            client = opened
        }
        let socket = udpSocket()
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, peer, &address.sin_addr) == 1 else {
            BenchmarkSupport.fail(tool, "not an IPv4 address: \(peer)")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { BenchmarkSupport.fail(tool, "connect to \(peer):\(port): errno \(errno)") }
        _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)

        let clock = ContinuousClock()
        let start = clock.now
        var child: ChildProcess?
        var initiate: Task<Void, Never>?
        switch starter {
        case .none: break
        case .command(let command):
            do {
                child = try ChildProcess.spawn(Command(command[0], Array(command.dropFirst())))
            } catch {
                BenchmarkSupport.fail(tool, "could not start \(command.joined(separator: " ")): \(error)")
            }
        case .vici(_, let ike, let childName):
            initiate = Task { [client] in
                _ = try? await client?.call(
                    "initiate",
                    ["ike": .text(ike), "child": .text(childName), "timeout": "20000"]
                )
            }
        }
        // The datagrams go out from a thread of their own: the pool stays free for the vici call.
        let result = try? await offThePool("first-packet") { sendUntilEchoed(socket, from: start) }
        if let child, child.wait(timeout: .seconds(30)) == nil {
            child.signal(SIGKILL)
            _ = child.wait()
        }
        await initiate?.value
        await client?.closeIdleConnections()
        guard let (sent, firstEchoed) = result ?? nil else {
            BenchmarkSupport.fail(tool, "nothing came back from \(peer):\(port) within \(limit)")
        }
        let elapsed = sent[firstEchoed] - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        print("first-protected-ms \(milliseconds) datagrams-before \(firstEchoed)")
    }

    /// Sends numbered datagrams on the connected `socket` every ``interval`` from `start` on and reads
    /// the echoes; returns the send times and the lowest number echoed, `nil` when none came back.
    static func sendUntilEchoed(
        _ socket: Int32,
        from start: ContinuousClock.Instant
    ) -> ([ContinuousClock.Instant], Int)? {
        let clock = ContinuousClock()
        var sent: [ContinuousClock.Instant] = []
        var firstEchoed: Int?
        var echoSeen: ContinuousClock.Instant?
        var buffer = [UInt8](repeating: 0, count: 64)
        while clock.now - start < limit {
            // Once something came back, listen a little longer for a lower number that overtook nothing.
            if let echoSeen, clock.now - echoSeen > .milliseconds(20) { break }
            if echoSeen == nil {
                var sequence = UInt32(sent.count).bigEndian
                sent.append(clock.now)
                // Refused (EPERM) while the driver drops the clear packets: expected.
                _ = withUnsafeBytes(of: &sequence) { Glibc.send(socket, $0.baseAddress, 4, 0) }
            }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, 1)
            while true {
                let count = recv(socket, &buffer, buffer.count, 0)
                guard count >= 4 else { break }
                let number = Int(
                    UInt32(buffer[0]) << 24 | UInt32(buffer[1]) << 16 | UInt32(buffer[2]) << 8 | UInt32(buffer[3])
                )
                guard number < sent.count else { continue }
                firstEchoed = min(firstEchoed ?? number, number)
                if echoSeen == nil { echoSeen = clock.now }
            }
        }
        return firstEchoed.map { (sent, $0) }
    }

    static func udpSocket() -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard socket >= 0 else { BenchmarkSupport.fail(tool, "socket: errno \(errno)") }
        return socket
    }
}
