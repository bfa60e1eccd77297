public import PolicyModel

/// The driver's operational modes, once the service runs.
public enum OperationalMode: String, Hashable, Sendable, Codable, CaseIterable {
    /// Filters of the effective policy are enforced.
    case secure
    /// Nothing is filtered (a manually stopped service).
    case permit
    /// Everything is dropped, no exemptions (persistent policy failed).
    case block
}

/// The mode the driver is in.
public enum DriverMode: Hashable, Sendable, Codable, CustomStringConvertible {
    case startup(StartupMode)
    case operational(OperationalMode)

    public var description: String {
        switch self {
        case .startup(let mode): "startup \(mode.rawValue)"
        case .operational(let mode): mode.rawValue
        }
    }
}
