import Driver

extension JournalEntry {
    /// The journal entry of a driver that cannot do its job, in the driver's own words: the same
    /// event whether the driver process or the agent saw it.
    static func driverFailure(_ what: String, _ error: any Error, consequence: String = "") -> JournalEntry {
        JournalEntry(
            .driverFailed,
            priority: .error,
            "The IPSec driver \(what): \(error).\(consequence)",
            fields: ["IPSECSVC_DRIVER_ERROR": (error as? DriverError)?.kind.rawValue ?? "failed"]
        )
    }
}
