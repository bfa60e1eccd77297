import ArgumentParser
import DecisionCore
import Driver
import PolicyModel
import ServiceHost

/// `ipsecsvc boot`: the computer-startup step (ipsecsvc-boot.service, before networking).
struct BootSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boot",
        abstract: "Put the IPSec driver in its startup mode (computer startup, before networking).",
        discussion: """
            Disabled and Manual: permit mode. Automatic: the configured bootmode, by default stateful when \
            a persistent, local or directory policy is assigned and permit otherwise; bootexemptions and DHCP \
            pass in the stateful and block modes.

            It reads the stores without CAP_NET_ADMIN and hands the mode to the driver process (ipsecsvc \
            driver, started first when none answers and systemd does not run the machine); the kernel \
            enforces the startup mode until the service has applied its whole policy.

            Examples:
              ipsecsvc boot
              ipsecsvc boot --config /etc/ipsecsvc/ipsecsvc.conf
            """
    )

    @OptionGroup var options: HostOptions

    func run() async throws {
        await reportingFailures("Boot") {
            let configuration = try options.load()
            let store = ServiceStateStore(directory: configuration.stateDirectory)
            let journal = makeDefaultJournal()
            let decision = try await BootSequence().run(
                startType: try store.effectiveStartType(configuration),
                settings: try store.dynamicSettings(),
                policyAssigned: try await PolicyEngineFactory.anyPolicyAssigned(configuration),
                driver: try DriverFactory.make(configuration, journal: journal, role: "boot"),
                journal: journal,
                record: store
            )
            standardOutput("The IPSec driver is in \(decision.mode.rawValue) startup mode (\(decision.reason)).")
        }
    }
}
