public import DecisionCore
public import Driver
import FoundationEssentials
public import PolicyModel

/// The private protocol between the agent (`ipsecsvc run`, `ipsecsvc boot`) and the driver process
/// (`ipsecsvc driver`), over the driver socket (docs/driver.md, "The driver process").
///
/// Every message is one frame: a 20-byte header (`IPSD`, u16 protocol version, u16 kind, u32 request id,
/// u32 JSON length, u32 tail length; little-endian), the JSON of a ``DriverRequest``, ``DriverReply`` or
/// ``DriverNotice``, and for a table a binary tail (``PolicyWire``). The JSON part is at most
/// ``maxJSONBytes``, the tail at most ``maxTableBytes``; a frame beyond either ends the connection. The
/// driver accepts connections only from root or its own user (`SO_PEERCRED`), on a socket of mode 0600.
public enum DriverLink {
    /// The version this build speaks; a peer with another one is refused with a clear error.
    public static let version: UInt16 = 1
    static let magic: [UInt8] = Array("IPSD".utf8)
    static let headerSize = 20
    /// The largest JSON part of a frame (a status with every per-filter counter of a large table fits).
    public static let maxJSONBytes = 64 << 20
    /// The largest table (the stores' own limit is 64 MiB of XML; its table is far smaller).
    public static let maxTableBytes = 256 << 20
}

/// What a frame carries.
enum FrameKind: UInt16 {
    case request = 1
    case reply = 2
    case notice = 3
}

/// Agent → driver. Each request gets exactly one ``DriverReply`` with its id.
public enum DriverRequest: Hashable, Sendable, Codable {
    /// The first request of a connection: who asks, in which protocol version.
    case hello(LinkHello)
    case configure(DriverSettings)
    case startupMode(StartupMode, exemptions: [BootExemption])
    case operationalMode(OperationalMode)
    /// A table; the frame's tail is its ``PolicyWire`` bytes.
    case apply(PolicyStamp)
    case status
    case decisionState
    /// The service's graceful stop: permit mode, and a driver started by the service exits.
    case shutdown
    /// Keying's view of the peers (soft associations, negotiations in progress); not saved: a restarted
    /// agent's keying publishes it again.
    case peerAssociations(PeerAssociations)
}

/// Driver → agent, the answer to one request.
public enum DriverReply: Hashable, Sendable, Codable {
    case done
    case hello(DriverProcessInfo)
    case status(DriverStatus)
    case decisionState(DriverDecisionState)
    case failed(DriverError)
}

/// Driver → agent, unasked: what the agent may want to react to. Keying's requests from the packet path
/// (negotiation needed, soft association in use) are plain `Codable` values and travel here as cases of
/// their own.
public enum DriverNotice: Hashable, Sendable, Codable {
    /// The driver is about to exit after a shutdown (a driver started by the service): do not restart it.
    case exiting
    /// A request of the packet path to IKE keying (negotiate with a peer, a soft association in use).
    case keying(KeyingRequest)
}

/// The driver process's keying requests: each goes to every connected agent as a ``DriverNotice``.
/// Called on a queue reader thread: it only queues the request (the queue keeps the newest 256).
final class LinkKeyingRequests: KeyingRequestSink {
    private let requests: AsyncStream<KeyingRequest>.Continuation
    private let stream: AsyncStream<KeyingRequest>

    init() {
        (stream, requests) = AsyncStream<KeyingRequest>.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    func submit(_ request: KeyingRequest) { requests.yield(request) }

    /// Sends the requests to the agents connected to `server` until the stream ends.
    func forward(to server: DriverLinkServer) async {
        for await request in stream { await server.broadcast(.keying(request)) }
    }

    func finish() { requests.finish() }
}

/// Who opened a connection.
public struct LinkHello: Hashable, Sendable, Codable {
    public var version: UInt16
    public var pid: Int32
    /// `run`, `boot`, a test.
    public var role: String

    public init(version: UInt16 = DriverLink.version, pid: Int32, role: String) {
        self.version = version
        self.pid = pid
        self.role = role
    }
}

/// Which agent process made a table and which of its generations it is: the driver skips a table it
/// already enforces (the same stamp again, after a reconnect), and tells tables of different agent
/// processes apart even when their generations are equal.
public struct PolicyStamp: Hashable, Sendable, Codable {
    /// The agent process: PID and start time.
    public var agent: String
    public var generation: UInt64

    public init(agent: String, generation: UInt64) {
        self.agent = agent
        self.generation = generation
    }
}

/// One frame as read or to be written.
struct LinkFrame: Sendable {
    var kind: FrameKind
    var id: UInt32
    var json: [UInt8]
    var tail: [UInt8]

    /// The header and parts as one buffer.
    var encoded: [UInt8] {
        var writer = WireWriter(capacity: DriverLink.headerSize + json.count + tail.count)
        writer.bytes(DriverLink.magic)
        writer.u16(DriverLink.version)
        writer.u16(kind.rawValue)
        writer.u32(id)
        writer.u32(UInt32(json.count))
        writer.u32(UInt32(tail.count))
        writer.bytes(json)
        writer.bytes(tail)
        return writer.buffer
    }

    /// A frame carrying `value` as its JSON part.
    static func make(_ kind: FrameKind, id: UInt32, _ value: some Encodable, tail: [UInt8] = []) throws -> LinkFrame {
        LinkFrame(kind: kind, id: id, json: Array(try JSONEncoder().encode(value)), tail: tail)
    }

    /// The JSON part as `T`.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json))
    }
}

/// The link failed: the peer is gone, answered out of turn, or sent something this build cannot read.
public struct DriverLinkError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
