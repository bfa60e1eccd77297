public import Driver
import PolicyModel
public import Providers

/// Builds the `IPsecDriver` the configuration names. The netfilter driver plugs in here: replace the
/// `.netfilter` case with its constructor (one line); everything else only sees the protocol.
public enum DriverFactory {
    /// The driver is not available in this build.
    public struct UnavailableError: Error, Hashable, Sendable, CustomStringConvertible {
        public var kind: DriverKind
        public var description: String {
            "The \(kind.rawValue) driver is not available in this build; set 'driver = memory' in the configuration."
        }
    }

    /// The state file of the memory driver.
    public static func memoryStatePath(_ configuration: ServiceConfiguration) -> String {
        configuration.stateDirectory + "/driver-state"
    }

    /// Makes the driver for `configuration`.
    public static func make(_ configuration: ServiceConfiguration) throws -> any IPsecDriver {
        switch configuration.driver {
        case .memory: FileBackedDriver(path: memoryStatePath(configuration))
        case .netfilter: throw UnavailableError(kind: .netfilter)
        }
    }

    /// The driver's status as another process left it, for `service query` while the service is not
    /// running. Only the memory driver can answer without the process; others report `nil` here and the
    /// netfilter driver can add a read-only probe.
    public static func offlineStatus(_ configuration: ServiceConfiguration) -> DriverStateRecord? {
        switch configuration.driver {
        case .memory: FileBackedDriver.read(memoryStatePath(configuration))
        case .netfilter: nil
        }
    }
}

/// Builds the `PolicyEngine` of the `run` process: the policy sources of the state directory
/// (persistent, directory, cache, local, dynamic).
public enum PolicyEngineFactory {
    public static func make(_ configuration: ServiceConfiguration) throws -> any PolicyEngine {
        SourcesPolicyEngine(configuration: configuration.sourcesConfiguration(journal: makeDefaultJournal()))
    }

    /// Whether any persistent, local or directory policy is assigned: decides the default `bootmode`
    /// (stateful if so, permit otherwise). Asks the engine's sources without applying anything.
    public static func anyPolicyAssigned(_ configuration: ServiceConfiguration) async throws -> Bool {
        // Read-only: computer startup must not write the directory cache or start polling.
        let engine = SourcesPolicyEngine(
            configuration: configuration.sourcesConfiguration(journal: makeDefaultJournal(), readOnly: true)
        )
        return await engine.sourceStatuses().contains { status in
            [.persistent, .directory, .directoryCache, .local].contains(status.kind) && status.policyName != nil
        }
    }
}
