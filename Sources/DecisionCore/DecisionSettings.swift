public import PolicyModel

/// Everything besides the policy and the host that a packet's verdict depends on: the driver's mode
/// and the `set config` settings that affect decisions.
///
/// The driver decides with the values it was given; `explain` asks the running service for them, or
/// states which ones it assumed.
public struct DecisionSettings: Hashable, Sendable, Codable {
    /// The mode in force; `nil` before the service reached one (the driver then decides by the table,
    /// as in secure mode).
    public var mode: DriverMode?
    /// `ipsecexempt` 0–3 (default 3: only IKE exempt).
    public var exemptionLevel: Int
    /// `bootexemptions`: what passes in the stateful and block startup modes besides DHCP.
    public var bootExemptions: [BootExemption]

    public init(
        mode: DriverMode? = .operational(.secure),
        exemptionLevel: Int = 3,
        bootExemptions: [BootExemption] = []
    ) {
        self.mode = mode
        self.exemptionLevel = exemptionLevel
        self.bootExemptions = bootExemptions
    }

    /// The operational mode in force, `nil` in a startup mode or before any mode.
    public var operationalMode: OperationalMode? {
        if case .operational(let mode) = mode { return mode }
        return nil
    }
}
