import DecisionCore
import Driver
import IPsecSystem
import PolicyModel
public import Providers

extension ExplainEnvironment {
    /// What the running service's driver decides with: its mode, `ipsecexempt`, the host information
    /// its table was compiled against, and the configured `dialup_interfaces`.
    public static func running(agent: PolicyAgent, configuration: ServiceConfiguration) async -> ExplainEnvironment {
        let state = await agent.driver.decisionState()
        var settings = state.settings
        if settings.bootExemptions.isEmpty {
            // The running service's driver was put in its startup mode by `ipsecsvc boot`; a
            // `--mode startup-…` question gets the boot exemptions that step would use.
            settings.bootExemptions = await agent.settings.bootExemptions + DynamicSettings.dhcpExemptions
        }
        return ExplainEnvironment(
            settings: settings,
            host: state.host,
            classifier: configuration.interfaceClassifier
        )
    }

    /// The service is stopped: what it would decide with once running (operational mode secure, the
    /// saved `set config` settings, this computer's host information now), with those assumptions
    /// spelled out. Blocking reads happen off the cooperative pool.
    public static func offline(configuration: ServiceConfiguration) async throws -> ExplainEnvironment {
        let store = ServiceStateStore(directory: configuration.stateDirectory)
        let source = DriverFactory.hostInfo(configuration)
        let (saved, host) = try await BlockingPool.shared.run { (try store.lockedDynamicSettings(), source.current()) }
        var assumptions = [
            "The service is not running: decided as it would once running, in operational mode secure, with "
                + "ipsecexempt \(saved.exemptionLevel) from the saved settings and this computer's addresses, "
                + "servers and interfaces as they are now."
        ]
        if let recorded = DriverFactory.offlineStatus(configuration)?.mode {
            assumptions.append("The driver itself is in mode \(recorded) now (driver-state).")
        }
        return ExplainEnvironment(
            settings: DecisionSettings(
                mode: .operational(.secure),
                exemptionLevel: saved.exemptionLevel,
                bootExemptions: saved.bootExemptions + DynamicSettings.dhcpExemptions
            ),
            host: host,
            classifier: configuration.interfaceClassifier,
            assumptions: assumptions
        )
    }
}
