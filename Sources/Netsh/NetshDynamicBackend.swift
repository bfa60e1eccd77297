import PolicyModel

/// One named counter of `show stats`.
public struct NetshCounter: Hashable, Sendable, Codable {
    public var name: String
    public var value: UInt64

    public init(_ name: String, _ value: UInt64) {
        self.name = name
        self.value = value
    }
}

/// What `show stats` prints: IKE (main mode / quick mode) counters and IPsec driver counters.
public struct NetshStatistics: Hashable, Sendable, Codable {
    public var ike: [NetshCounter]
    public var ipsec: [NetshCounter]
    /// Printed under the IKE counters (why they read 0 here).
    public var ikeNote: String?

    public init(ike: [NetshCounter] = [], ipsec: [NetshCounter] = [], ikeNote: String? = nil) {
        self.ike = ike
        self.ipsec = ipsec
        self.ikeNote = ikeNote
    }

    /// The IKE section of Windows Server 2003's `show stats`, by name.
    public static let ikeCounterNames = [
        "Main Modes", "Quick Modes", "Soft SAs", "Authentication Failures", "Active Acquire", "Active Receive",
        "Acquire Failures", "Receive Failures", "Send Failures", "Acquire Heap Size", "Receive Heap Size",
        "Negotiation Failures", "Invalid Cookies Received", "Total Acquire", "TotalGetSpi", "TotalKeyAdd",
        "TotalKeyUpdate", "GetSpiFail", "KeyAddFail", "KeyUpdateFail", "IsadbListSize", "ConnListSize",
        "Invalid Packets Received",
    ]

    /// IKE is off (`ike = none`, or the memory driver): every IKE counter is 0, and the note says why.
    public static let noIKE = (
        counters: ikeCounterNames.map { NetshCounter($0, 0) },
        note: "IKE keying is off (ike = none): the IKE counters are always 0."
    )
}

/// Where `netsh ipsec dynamic` commands run: the service's SPD (``NetshDynamicSession`` there).
///
/// Called synchronously by the shell, one call at a time. The CLI implements it over the control
/// socket (`netsh.dynamic.run`); tests run a session in memory (IPsecTestKit).
public protocol NetshDynamicBackend: AnyObject {
    /// Runs `commands` as one transaction: every command applies, or — when one fails — none.
    /// - Parameter dryRun: check the commands against the SPD as it is, and change nothing.
    /// - Returns: what each command prints.
    /// - Throws: ``NetshDynamicFailure`` naming the failing command, or
    ///   ``NetshDynamicFailure/serviceNotRunning``.
    func run(_ commands: [NetshDynamicCommand], dryRun: Bool) throws(NetshDynamicFailure) -> [String]
}
