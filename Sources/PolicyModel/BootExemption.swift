/// Traffic direction relative to this computer.
public enum TrafficDirection: String, Hashable, Sendable, Codable, CaseIterable {
    case inbound
    case outbound
}

/// One `bootexemptions` entry: `protocol:srcport:dstport:direction` (windows-ipsec.md §4.4): traffic
/// the driver lets through in the stateful and block startup modes.
///
/// The one definition shared by the driver (which enforces it), netsh (`set config`) and the
/// service's persisted dynamic settings.
public struct BootExemption: Hashable, Sendable, Codable, CustomStringConvertible {
    public var ipProtocol: UInt8
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var direction: TrafficDirection

    public init(ipProtocol: UInt8, sourcePort: UInt16, destinationPort: UInt16, direction: TrafficDirection) {
        self.ipProtocol = ipProtocol
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.direction = direction
    }

    /// Parses one entry, `tcp:0:3389:inbound`: a protocol keyword or number, two ports 0–65535 and a
    /// direction (any letter case); `nil` when the entry is malformed.
    public init?(parsing entry: some StringProtocol) {
        let parts = String(entry).split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, let ipProtocol = IPProtocol.parse(parts[0]),
            let sourcePort = UInt16(parts[1]), let destinationPort = UInt16(parts[2]),
            let direction = TrafficDirection(rawValue: parts[3].lowercased())
        else { return nil }
        self.init(
            ipProtocol: ipProtocol,
            sourcePort: sourcePort,
            destinationPort: destinationPort,
            direction: direction
        )
    }

    /// `TCP:0:3389:inbound`.
    public var description: String {
        "\(IPProtocol.name(ipProtocol)):\(sourcePort):\(destinationPort):\(direction.rawValue)"
    }
}
