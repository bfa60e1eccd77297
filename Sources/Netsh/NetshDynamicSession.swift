public import DecisionCore
public import PolicyModel

/// What `netsh ipsec dynamic` commands read and change, as plain values: the service gathers it, a
/// ``NetshDynamicSession`` runs the commands on it, and the service keeps the result.
public struct NetshSPD: Hashable, Sendable {
    /// The dynamic main-mode and quick-mode policies and rules.
    public var policy: DynamicPolicy
    /// The `set config` settings as configured (`dynamic-settings.conf`).
    public var settings: DynamicSettings
    /// The settings the running service uses (boot-time ones as at its start); `nil`: as configured.
    public var serviceSettings: DynamicSettings?
    /// What the computer startup step applied at this startup; `nil`: it did not run.
    public var bootSettings: DynamicSettings?
    /// The counters for `show stats` (gathered when a command reads ``NetshLiveData/statistics``).
    public var statistics: NetshStatistics
    /// The effective policy in force, from every source, as `explain` sees it (gathered for
    /// ``NetshLiveData/filters``); `show` lists its dynamic filters as ``policy`` has them now.
    public var inForce: EffectivePolicy
    /// What the driver resolves `me` and special servers with (gathered for ``NetshLiveData/filters``).
    public var host: HostInfo
    /// The driver's mode (gathered for ``NetshLiveData/filters``): outside secure mode the filters
    /// decide nothing, and `show` says so. `nil` when not known.
    public var driverMode: DriverMode?
    /// The live IKE security associations (gathered for ``NetshLiveData/securityAssociations``).
    public var securityAssociations: NetshSecurityAssociations

    /// The settings as configured and in force, for `show config`.
    public var settingsState: DynamicSettingsState {
        DynamicSettingsState(configured: settings, service: serviceSettings ?? settings, boot: bootSettings)
    }

    public init(
        policy: DynamicPolicy = DynamicPolicy(),
        settings: DynamicSettings = DynamicSettings(),
        serviceSettings: DynamicSettings? = nil,
        bootSettings: DynamicSettings? = nil,
        statistics: NetshStatistics = NetshStatistics(),
        inForce: EffectivePolicy = .empty,
        host: HostInfo = HostInfo(),
        driverMode: DriverMode? = nil,
        securityAssociations: NetshSecurityAssociations = .none
    ) {
        self.policy = policy
        self.settings = settings
        self.serviceSettings = serviceSettings
        self.bootSettings = bootSettings
        self.statistics = statistics
        self.inForce = inForce
        self.host = host
        self.driverMode = driverMode
        self.securityAssociations = securityAssociations
    }
}

/// What a dynamic command reads from the running service besides the dynamic policy and the settings:
/// the service gathers only what the commands it runs need.
public struct NetshLiveData: OptionSet, Hashable, Sendable {
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// The driver's counters (`show stats`).
    public static let statistics = NetshLiveData(rawValue: 1)
    /// The filters in force and what they are expanded against (`show qmpolicy|mmfilter|qmfilter|rule|all`).
    public static let filters = NetshLiveData(rawValue: 2)
    /// The live IKE security associations (`show mmsas|qmsas`).
    public static let securityAssociations = NetshLiveData(rawValue: 4)
}

/// One `netsh ipsec dynamic` command as the shell found it: the command's full name (`add rule`) and
/// its arguments as typed. The shell sends it to the service, which runs it.
public struct NetshDynamicCommand: Hashable, Sendable, Codable {
    public var name: String
    public var arguments: [NetshToken]

    public init(name: String, arguments: [NetshToken]) {
        self.name = name
        self.arguments = arguments
    }
}

/// A batch of dynamic commands that was refused: nothing of it was applied.
public struct NetshDynamicFailure: Error, Hashable, Sendable, Codable {
    /// The position (from 0) of the command that failed; `nil` when the batch could not run at all
    /// (the service is not running).
    public var index: Int?
    public var message: String

    public init(index: Int?, message: String) {
        self.index = index
        self.message = message
    }

    /// No service to run the commands.
    public static let serviceNotRunning = NetshDynamicFailure(index: nil, message: NetshError.serviceNotRunning.message)
}

/// Runs `netsh ipsec dynamic` commands on an SPD (``NetshSPD``): the engine the service runs for every
/// dynamic command and script it receives.
///
/// ``run(_:)`` applies a batch as one transaction: each command works on the result of the ones before
/// it, and when one fails the SPD is left as it was. Synchronous and pure apart from DNS lookups (the
/// environment's resolver): the service calls it off the cooperative pool.
public final class NetshDynamicSession {
    public private(set) var spd: NetshSPD
    public var environment: NetshEnvironment

    public init(_ spd: NetshSPD, environment: NetshEnvironment = NetshEnvironment()) {
        self.spd = spd
        self.environment = environment
    }

    /// Runs `commands` in order; returns what each prints.
    /// - Throws: ``NetshDynamicFailure`` naming the first command that failed; the SPD is then unchanged.
    public func run(_ commands: [NetshDynamicCommand]) throws(NetshDynamicFailure) -> [String] {
        let saved = spd
        var outputs: [String] = []
        for (index, line) in commands.enumerated() {
            do throws(NetshError) {
                guard let command = Self.command(named: line.name) else {
                    throw NetshError("The following command was not found: \(line.name).")
                }
                outputs.append(try run(command, line.arguments))
            } catch {
                spd = saved
                throw NetshDynamicFailure(index: index, message: error.message)
            }
        }
        return outputs
    }

    /// What the service must gather for `commands` besides the dynamic policy and the settings.
    public static func reads(_ commands: [NetshDynamicCommand]) -> NetshLiveData {
        commands.reduce(into: NetshLiveData()) { reads, line in
            reads.formUnion(command(named: line.name)?.reads ?? [])
        }
    }

    func edit(_ body: (inout NetshSPD) throws(NetshError) -> String) throws(NetshError) -> String {
        var copy = spd
        let output = try body(&copy)
        spd = copy
        return output
    }

    /// Every command of the `ipsec dynamic` context.
    static let commands: [NetshCommand<NetshDynamicSession>] =
        policyCommands + ruleCommands + configCommands + showCommands

    static func command(named name: String) -> NetshCommand<NetshDynamicSession>? {
        commands.first { $0.spec.name == name }
    }

    /// The syntax and help of every command, for tests and documentation checks.
    package static var specs: [NetshCommandSpec] { commands.map(\.spec) }

    func run(_ command: NetshCommand<NetshDynamicSession>, _ tokens: [NetshToken]) throws(NetshError) -> String {
        try command.run(self, tokens)
    }

    /// A session method that edits the SPD a command works on.
    typealias Edit = @Sendable (NetshDynamicSession) -> (NetshArguments, inout NetshSPD) throws(NetshError) -> String

    /// A handler that edits the SPD (``edit(_:)``: on a copy kept only when it succeeds).
    static func edit(_ body: @escaping Edit) -> NetshCommand<NetshDynamicSession>.Handler {
        { session in
            { arguments throws(NetshError) in
                try session.edit { spd throws(NetshError) in try body(session)(arguments, &spd) }
            }
        }
    }
}
