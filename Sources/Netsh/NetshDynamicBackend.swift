public import PolicyModel

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

    /// ipsecsvc does no key exchange: every IKE counter is 0, and the note says why.
    public static let noIKE = (
        counters: ikeCounterNames.map { NetshCounter($0, 0) },
        note: "ipsecsvc does no IKE key exchange: the IKE counters are always 0."
    )
}

/// The running service as `netsh ipsec dynamic` needs it.
///
/// Every call needs the service: implementations throw ``NetshError/serviceNotRunning`` when it
/// is not running. The CLI implements this over the control socket; tests use
/// ``InMemoryNetshDynamicBackend``.
public protocol NetshDynamicBackend: AnyObject {
    /// The service's dynamic state (policies, rules, config).
    func load() throws(NetshError) -> DynamicState

    /// Replaces the dynamic state: rules take effect at once; the service persists ``DynamicState/config``.
    func save(_ state: DynamicState) throws(NetshError)

    /// The counters for `show stats`.
    func statistics() throws(NetshError) -> NetshStatistics

    /// The computer's IPv4 addresses, for expanding `me` in specific filters.
    func localAddresses() throws(NetshError) -> [IPv4Address]
}

/// A dynamic backend in memory; ``isRunning`` plays the service's state.
public final class InMemoryNetshDynamicBackend: NetshDynamicBackend {
    public var isRunning: Bool
    public var state: DynamicState
    public var counters: NetshStatistics
    public var addresses: [IPv4Address]
    public private(set) var saveCount = 0

    public init(
        isRunning: Bool = true,
        state: DynamicState = DynamicState(),
        counters: NetshStatistics = NetshStatistics(),
        addresses: [IPv4Address] = []
    ) {
        self.isRunning = isRunning
        self.state = state
        self.counters = counters
        self.addresses = addresses
    }

    public func load() throws(NetshError) -> DynamicState {
        guard isRunning else { throw .serviceNotRunning }
        return state
    }

    public func save(_ state: DynamicState) throws(NetshError) {
        guard isRunning else { throw .serviceNotRunning }
        self.state = state
        saveCount += 1
    }

    public func statistics() throws(NetshError) -> NetshStatistics {
        guard isRunning else { throw .serviceNotRunning }
        return counters
    }

    public func localAddresses() throws(NetshError) -> [IPv4Address] {
        guard isRunning else { throw .serviceNotRunning }
        return addresses
    }

    /// The service stopped: dynamic rules and policies vanish, the config stays.
    public func stopService() {
        isRunning = false
        state = DynamicState(config: state.config)
    }
}
