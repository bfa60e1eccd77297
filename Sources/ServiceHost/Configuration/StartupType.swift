/// The service's startup type, as the Windows service control manager knows it.
public enum StartupType: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Started at computer startup; the driver loads in the configured `bootmode`.
    case automatic
    /// Started on demand; the driver loads in permit mode.
    case manual
    /// Never started; the driver loads in permit mode and a start request fails with error 1058.
    case disabled

    /// Parses `automatic|manual|disabled` and the `sc config start=` spellings `auto|demand|disabled`.
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "automatic", "auto": self = .automatic
        case "manual", "demand": self = .manual
        case "disabled": self = .disabled
        default: return nil
        }
    }

    /// The `START_TYPE` number `sc qc` prints.
    public var scCode: Int {
        switch self {
        case .automatic: 2
        case .manual: 3
        case .disabled: 4
        }
    }

    /// The `START_TYPE` name `sc qc` prints.
    public var scName: String {
        switch self {
        case .automatic: "AUTO_START"
        case .manual: "DEMAND_START"
        case .disabled: "DISABLED"
        }
    }

    public var description: String { rawValue }
}
