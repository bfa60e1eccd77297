public import DecisionCore
public import PolicyModel

/// Traffic direction relative to this computer, as `explain` spells it (`--direction in|out`).
public enum PacketDirection: String, Hashable, Sendable, Codable, CaseIterable {
    case inbound = "in"
    case outbound = "out"

    /// The direction the decision core uses.
    public var traffic: TrafficDirection { self == .inbound ? .inbound : .outbound }
}

/// The packet `explain` asks about, and what the caller wants assumed about it.
public struct PacketQuery: Hashable, Sendable, Codable {
    public var source: IPv4Address
    public var destination: IPv4Address
    public var ipProtocol: UInt8
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// `nil`: inferred from the local addresses (a packet from `me` is outbound).
    public var direction: PacketDirection?
    /// The interface the packet arrives on (inbound) or leaves through (outbound): its connection type
    /// selects the rules that apply. `nil`: a LAN interface is assumed.
    public var interface: String?
    /// Whether IPsec protects the packet (what negotiate filters ask). `nil`: clear traffic is assumed.
    public var protected: Bool?
    /// The driver mode to decide in instead of the one in force (or, offline, instead of secure).
    public var mode: DriverMode?

    public init(
        source: IPv4Address,
        destination: IPv4Address,
        ipProtocol: UInt8 = IPProtocol.any,
        sourcePort: UInt16 = 0,
        destinationPort: UInt16 = 0,
        direction: PacketDirection? = nil,
        interface: String? = nil,
        protected: Bool? = nil,
        mode: DriverMode? = nil
    ) {
        self.source = source
        self.destination = destination
        self.ipProtocol = ipProtocol
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.direction = direction
        self.interface = interface
        self.protected = protected
        self.mode = mode
    }

    /// The packet's fields as the driver reads them from the header: ports only for TCP and UDP.
    public var key: PacketKey {
        let ports = ipProtocol == IPProtocol.tcp || ipProtocol == IPProtocol.udp
        return PacketKey(
            source: source,
            destination: destination,
            ipProtocol: ipProtocol,
            sourcePort: ports ? sourcePort : 0,
            destinationPort: ports ? destinationPort : 0
        )
    }
}

/// What `explain` decides with besides the policy: the running driver's mode, settings and host
/// information (through the control socket), or what `explain` assumed when the service is stopped.
public struct ExplainEnvironment: Hashable, Sendable, Codable {
    public var settings: DecisionSettings
    public var host: HostInfo
    /// Classifies an interface name the host does not have (`dialup_interfaces`).
    public var classifier: InterfaceClassifier
    /// One sentence per assumption (offline mode, settings read from the state directory, ...).
    public var assumptions: [String]

    public init(
        settings: DecisionSettings = DecisionSettings(),
        host: HostInfo = HostInfo(),
        classifier: InterfaceClassifier = InterfaceClassifier(),
        assumptions: [String] = []
    ) {
        self.settings = settings
        self.host = host
        self.classifier = classifier
        self.assumptions = assumptions
    }
}
