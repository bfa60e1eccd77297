public import Driver
import FoundationEssentials
public import Netsh
public import PolicyModel

/// The control-socket protocol version this build speaks (docs/control-protocol.md).
public let controlProtocolVersion = 1

/// A command of the control socket: its wire name and its typed request and response bodies.
///
/// Define one per command in the module that owns it, register a handler with
/// ``ControlRegistry/register(_:handler:)`` on the service side, and call it with
/// ``ControlClient/send(_:_:)`` from the CLI. Bodies are JSON; add fields as optionals so that older
/// clients keep working, and bump ``controlProtocolVersion`` only for incompatible changes.
public protocol ControlCommand: Sendable {
    associatedtype Request: Codable & Sendable
    associatedtype Response: Codable & Sendable
    /// The wire name, `area.verb` (`service.status`, `policy.import`, `netsh.dynamic`).
    static var name: String { get }
}

/// An empty request or response body.
public struct ControlEmpty: Codable, Hashable, Sendable {
    public init() {}
}

/// An error answer of the control socket (and the client's own failures).
public struct ControlError: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    /// Stable, machine-readable error codes.
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The request is not valid JSON or lacks `version`/`command`.
        public static let malformed = Code(rawValue: "malformed-request")
        /// The request exceeds the size limit.
        public static let tooLarge = Code(rawValue: "request-too-large")
        /// The request's `version` is not supported.
        public static let unsupportedVersion = Code(rawValue: "unsupported-version")
        /// No handler for `command`.
        public static let unknownCommand = Code(rawValue: "unknown-command")
        /// The peer is neither root nor a member of the admin group.
        public static let accessDenied = Code(rawValue: "access-denied")
        /// The peer did not send a whole request in time.
        public static let timeout = Code(rawValue: "timeout")
        /// Too many connections at once.
        public static let busy = Code(rawValue: "busy")
        /// The body does not fit the command.
        public static let invalidArguments = Code(rawValue: "invalid-arguments")
        /// The command failed; ``ControlError/windowsError`` may say how.
        public static let failed = Code(rawValue: "failed")
        /// Client side: no service answers on the socket.
        public static let notRunning = Code(rawValue: "service-not-running")
        /// Client side: the socket could not be used (permissions, I/O).
        public static let transport = Code(rawValue: "transport")

        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    /// The Win32 error code when the failure has a Windows meaning (1058, 1062, ...).
    public var windowsError: UInt32?

    public init(_ code: Code, _ message: String, windowsError: UInt32? = nil) {
        self.code = code
        self.message = message
        self.windowsError = windowsError
    }

    /// Wraps a Windows error.
    public init(_ error: WindowsError) {
        self.init(.failed, error.message, windowsError: error.code)
    }

    public var description: String {
        if let windowsError { return "error \(windowsError): \(message)" }
        return message
    }
}

/// The request envelope on the wire: `{"version":1,"command":"…","body":{…}}` then a newline.
public struct ControlRequest<Body: Codable & Sendable>: Codable, Sendable {
    public var version: Int
    public var command: String
    public var body: Body?

    public init(version: Int = controlProtocolVersion, command: String, body: Body?) {
        self.version = version
        self.command = command
        self.body = body
    }
}

/// The response envelope: `{"version":1,"ok":true,"body":{…}}` or `{"version":1,"ok":false,"error":{…}}`.
public struct ControlResponse<Body: Codable & Sendable>: Codable, Sendable {
    public var version: Int
    public var ok: Bool
    public var body: Body?
    public var error: ControlError?

    public init(body: Body) {
        self.version = controlProtocolVersion
        self.ok = true
        self.body = body
        self.error = nil
    }

    public init(error: ControlError) {
        self.version = controlProtocolVersion
        self.ok = false
        self.body = nil
        self.error = error
    }
}

/// Encodes the wire form (compact JSON, sorted keys, one line).
func encodeLine(_ value: some Encodable) -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = (try? encoder.encode(value)) ?? Data(#"{"ok":false,"version":1}"#.utf8)
    return Array(data) + [UInt8(ascii: "\n")]
}

// MARK: - The service host's own commands

/// `service.ping`: is the service there, which PID and protocol version.
public enum PingCommand: ControlCommand {
    public struct Response: Codable, Hashable, Sendable {
        public var pid: Int32
        public var version: Int
    }
    public typealias Request = ControlEmpty
    public static let name = "service.ping"
}

/// `service.status`: the status report (`service query`, `status`).
public enum StatusCommand: ControlCommand {
    public typealias Request = ControlEmpty
    public typealias Response = ServiceStatusReport
    public static let name = "service.status"
}

/// `service.stop`: graceful stop; answers at once with STOP_PENDING, the process exits when done.
public enum StopCommand: ControlCommand {
    public typealias Request = ControlEmpty
    public typealias Response = ServiceStatusReport
    public static let name = "service.stop"
}

/// `service.refresh`: re-read the directory and local sources now (like SIGHUP).
public enum RefreshCommand: ControlCommand {
    public typealias Request = ControlEmpty
    public typealias Response = ServiceStatusReport
    public static let name = "service.refresh"
}

/// `config.get`: the dynamic `set config` settings.
public enum GetDynamicConfigCommand: ControlCommand {
    public typealias Request = ControlEmpty
    public typealias Response = DynamicSettings
    public static let name = "config.get"
}

/// `config.set`: set one `set config` property (persisted; the driver part applies at once).
public enum SetDynamicConfigCommand: ControlCommand {
    public struct Request: Codable, Hashable, Sendable {
        public var property: String
        public var value: String
        public init(property: String, value: String) {
            self.property = property
            self.value = value
        }
    }
    public typealias Response = DynamicSettings
    public static let name = "config.set"
}

/// `netsh.dynamic.stats`: the driver's counters as `netsh ipsec dynamic show stats` prints them
/// (``DriverStatus/netshStatistics``) and, with keying, the IKE counters (``PolicyAgent/netshStatistics()``).
public enum NetshStatisticsCommand: ControlCommand {
    public typealias Request = ControlEmpty
    public typealias Response = NetshStatistics
    public static let name = "netsh.dynamic.stats"
}

extension NetshStatistics {
    /// `show stats` for a driver's status.
    public init(driverStatus: DriverStatus) {
        self.init(
            ike: Self.noIKE.counters,
            ipsec: driverStatus.netshStatistics.map { NetshCounter($0.name, $0.value) },
            ikeNote: Self.noIKE.note
        )
    }
}
