/// An IPsec policy (`ipsecPolicy`): its main-mode settings and its rules.
///
/// The ISAKMP object and the rules (NFAs) belong to exactly one policy in Windows, so they are held
/// by value here; filter lists and filter actions are shared and live in the ``PolicyStore``.
public struct IPsecPolicy: Hashable, Sendable, Codable {
    public var id: IPsecGUID
    public var name: String
    public var description: String
    /// `whenChanged`: seconds since 1970-01-01 UTC, as the registry stores it; `nil` when unknown.
    public var whenChanged: Int64?
    /// Seconds between checks for changes (Polling-Interval). Windows writes 10 800 (180 minutes);
    /// 0 means the default.
    public var pollingIntervalSeconds: UInt32
    /// The main-mode (ISAKMP) settings object.
    public var mainMode: MainModeSettings
    /// The rules in their stored order, the default response rule among them.
    public var rules: [Rule]

    /// Windows' polling interval when the stored value is 0: 180 minutes.
    public static let defaultPollingIntervalSeconds: UInt32 = 10_800

    public init(
        id: IPsecGUID,
        name: String,
        description: String = "",
        whenChanged: Int64? = nil,
        pollingIntervalSeconds: UInt32 = IPsecPolicy.defaultPollingIntervalSeconds,
        mainMode: MainModeSettings,
        rules: [Rule] = []
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.whenChanged = whenChanged
        self.pollingIntervalSeconds = pollingIntervalSeconds
        self.mainMode = mainMode
        self.rules = rules
    }

    /// The polling interval in effect (0 stands for 180 minutes).
    public var effectivePollingIntervalSeconds: UInt32 {
        pollingIntervalSeconds == 0 ? Self.defaultPollingIntervalSeconds : pollingIntervalSeconds
    }

    /// The default response rule, if the policy has one.
    public var defaultResponseRule: Rule? { rules.first { $0.isDefaultResponse } }
}
