import DecisionCore
public import Driver
import IPsecSystem
public import PolicyModel

/// The computer-startup step (`ipsecsvc boot`, run by `ipsecsvc-boot.service` before networking): puts
/// the driver in its startup mode and returns.
///
/// Disabled and Manual: permit. Automatic: the configured `bootmode`, or by default stateful when any
/// persistent, local or directory policy is assigned and permit otherwise; stateful and block allow the
/// `bootexemptions` and DHCP.
public struct BootSequence: Sendable {
    /// What the boot step decided.
    public struct Decision: Hashable, Sendable, Codable {
        public var startType: StartupType
        public var mode: StartupMode
        public var exemptions: [BootExemption]
        /// Why this mode: `start type manual`, `bootmode block`, `default (policy assigned)`, ...
        public var reason: String
    }

    public init() {}

    /// Decides the startup mode (pure: no I/O).
    public func decide(startType: StartupType, settings: DynamicSettings, policyAssigned: Bool) -> Decision {
        let mode: StartupMode
        let reason: String
        switch startType {
        case .disabled, .manual:
            mode = .permit
            reason = "start type \(startType.rawValue)"
        case .automatic:
            if let configured = settings.bootMode {
                mode = configured
                reason = "bootmode \(configured.rawValue)"
            } else {
                mode = policyAssigned ? .stateful : .permit
                reason = policyAssigned ? "default: a policy is assigned" : "default: no policy is assigned"
            }
        }
        let exemptions = mode == .permit ? [] : settings.bootExemptions + DynamicSettings.dhcpExemptions
        return Decision(startType: startType, mode: mode, exemptions: exemptions, reason: reason)
    }

    /// Decides and puts `driver` in the startup mode; journals the result and, with `record`, keeps the
    /// boot-time settings it applied (`boot-settings`).
    @discardableResult
    public func run(
        startType: StartupType,
        settings: DynamicSettings,
        policyAssigned: Bool,
        driver: any IPsecDriver,
        journal: any Journal,
        record: ServiceStateStore? = nil
    ) async throws -> Decision {
        let decision = decide(startType: startType, settings: settings, policyAssigned: policyAssigned)
        try await driver.configure(settings.driverSettings)
        try await driver.enterStartupMode(decision.mode, exemptions: decision.exemptions)
        // What this startup applied: `show config` and `status` tell it from what waits for the next one.
        if let record { try await BlockingPool.shared.run { try record.recordBootSettings(settings) } }
        let exemptions =
            decision.exemptions.isEmpty
            ? "" : " with exemptions \(decision.exemptions.map(\.description).joined(separator: " "))"
        journal.record(
            JournalEntry(
                .bootModeApplied,
                "The IPSec driver has started in \(decision.mode.rawValue) mode (\(decision.reason))\(exemptions).",
                fields: [
                    "IPSECSVC_DRIVER_MODE": "startup \(decision.mode.rawValue)",
                    "IPSECSVC_START_TYPE": startType.rawValue,
                ]
            )
        )
        return decision
    }
}
