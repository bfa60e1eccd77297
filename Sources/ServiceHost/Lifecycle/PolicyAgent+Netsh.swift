import DecisionCore
import Driver
import IPsecSystem
public import Netsh
import PolicyModel
import Providers

extension PolicyAgent {
    /// Runs `netsh ipsec dynamic` commands as one transaction on the service's dynamic SPD: one at a
    /// time (concurrent requests wait their turn), on the dynamic policy and the settings as they are
    /// when its turn comes, all or nothing. The dynamic policy is then replaced as a whole (one merge,
    /// one table swap, applied before this returns) and changed settings are written to
    /// `dynamic-settings.conf` and applied.
    /// - Parameter dryRun: run the commands on a copy and keep nothing.
    /// - Returns: each command's output.
    /// - Throws: ``NetshDynamicFailure`` for a command that failed (nothing changed), or the error of
    ///   reading or writing the settings file.
    public func runNetshDynamic(
        _ commands: [NetshDynamicCommand],
        dryRun: Bool,
        store: ServiceStateStore
    ) async throws -> [String] {
        try await dynamicTransactions.run {
            let configured = try await BlockingPool.shared.run { try store.lockedDynamicSettings() }
            var spd = NetshSPD(
                policy: await engine.dynamic.policy,
                settings: configured,
                serviceSettings: settings,
                bootSettings: bootSettings
            )
            let reads = NetshDynamicSession.reads(commands)
            if reads.contains(.statistics) { spd.statistics = await netshStatistics() }
            if reads.contains(.securityAssociations) { spd.securityAssociations = await netshSecurityAssociations() }
            if reads.contains(.filters) {
                // The effective policy explain decides with, and the driver's host and mode: `show`
                // expands the filters as the driver compiled them.
                spd.inForce = await engine.report().policy
                let state = await driver.decisionState()
                spd.host = state.host
                spd.driverMode = state.settings.mode
            }
            // Off the pool: DNS names in the commands are resolved as they run.
            let before = spd
            let result = await BlockingPool.shared.run { () -> Result<(NetshSPD, [String]), NetshDynamicFailure> in
                let session = NetshDynamicSession(before, environment: Self.netshEnvironment)
                do throws(NetshDynamicFailure) {
                    let outputs = try session.run(commands)
                    return .success((session.spd, outputs))
                } catch {
                    return .failure(error)
                }
            }
            let (after, outputs) = try result.get()
            guard !dryRun else { return outputs }
            let changed = DynamicSettings.properties.filter { after.settings.value(of: $0) != configured.value(of: $0) }
            if !changed.isEmpty {
                let new = after.settings
                let written = try await BlockingPool.shared.run {
                    try store.changeDynamicSettingsInOrder { current in
                        // Only what these commands set: a concurrent writer's other changes stay.
                        for property in changed {
                            if property == "bootmode" {
                                current.bootMode = new.bootMode
                            } else if let value = new.value(of: property) {
                                try current.set(property: property, value: value)
                            }
                        }
                    }
                }
                try await updateSettings(written.settings, revision: written.revision)
            }
            if after.policy != before.policy {
                await engine.dynamic.replace(after.policy)
                await policyChanged()
            }
            return outputs
        }
    }

    /// Real GUIDs, the clock and the system resolver.
    private static var netshEnvironment: NetshEnvironment {
        NetshEnvironment(now: { SystemClock.secondsSince1970() }, resolver: SystemNameResolver())
    }
}
