public import Driver
public import PolicyModel

extension DynamicSettings {
    /// What the driver needs of these settings.
    public var driverSettings: DriverSettings {
        DriverSettings(
            exemptionLevel: exemptionLevel,
            diagnosticsLevel: diagnostics,
            logIntervalSeconds: logIntervalSeconds
        )
    }
}
