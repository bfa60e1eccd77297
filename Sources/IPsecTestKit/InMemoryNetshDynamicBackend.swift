public import Netsh
import PolicyModel

/// The running service as `netsh ipsec dynamic` reaches it, in memory: runs each batch on its SPD with a
/// ``NetshDynamicSession``, as the service does, and keeps the result. ``isRunning`` plays the
/// service's state.
public final class InMemoryNetshDynamicBackend: NetshDynamicBackend {
    public var isRunning: Bool
    public var spd: NetshSPD
    public var environment: NetshEnvironment
    /// How many batches changed the SPD.
    public private(set) var commitCount = 0

    public init(isRunning: Bool = true, spd: NetshSPD = NetshSPD(), environment: NetshEnvironment = NetshEnvironment())
    {
        self.isRunning = isRunning
        self.spd = spd
        self.environment = environment
    }

    public func run(_ commands: [NetshDynamicCommand], dryRun: Bool) throws(NetshDynamicFailure) -> [String] {
        guard isRunning else { throw .serviceNotRunning }
        let session = NetshDynamicSession(spd, environment: environment)
        let outputs = try session.run(commands)
        if !dryRun && session.spd != spd {
            spd = session.spd
            commitCount += 1
        }
        return outputs
    }

    /// The service stopped: dynamic rules and policies vanish, the settings stay.
    public func stopService() {
        isRunning = false
        spd.policy = DynamicPolicy()
    }
}
