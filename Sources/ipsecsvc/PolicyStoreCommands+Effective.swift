import PolicyFormats
import PolicyModel
import Providers
import ServiceHost

/// `ipsecsvc policy show --effective [--json]`: the resultant set of policy, every filter with its source,
/// policy, rule, filter list and filter action, its rule's connection type (ALL, LAN, DIALUP: the interfaces
/// it applies to), and for directory policy its GPO and link.
enum EffectivePolicyDisplay {
    static func run(json: Bool, options: HostOptions) async {
        await reportingFailures("ShowEffectivePolicy") {
            let configuration = try options.load()
            let client = ControlClient(configuration: configuration)
            let running = try client.isListening()
            let report: EffectiveReport
            if running {
                report = try client.send(EffectivePolicyCommand.self)
            } else {
                report = await OfflineEngine.make(configuration).report()
            }
            standardOutput(json ? JSONOutput.text(report) : text(report, running: running), terminator: "")
        }
    }

    static func text(_ report: EffectiveReport, running: Bool) -> String {
        var out = running ? "" : "The service is not running: this is the policy it would apply.\n"
        out += "Driver mode: \(report.driverMode.rawValue)\n"
        out += "Sources:\n"
        for source in report.sources {
            var line = "  \(source.name.padding(18)) \(source.state.rawValue.padding(14))"
            if let policy = source.policyName { line += " \"\(policy)\"" }
            if let reason = source.reason, source.state != .inEffect { line += " (\(reason))" }
            if source.pendingRestart { line += " [changed on disk: pending restart]" }
            out += line + "\n"
        }
        out += "Effective filters (\(report.policy.filters.count)), generation \(report.policy.generation):\n"
        for (index, effective) in report.policy.filters.enumerated() {
            let weight = FilterWeight(effective.filter).value
            out += "  \(index + 1). \(FilterText.describe(effective.filter)), weight \(weight), "
            out += "in: \(effective.inboundAction.action.rawValue), out: \(effective.outboundAction.action.rawValue), "
            out += "connection type \(ListingFormat.connectionType(effective.interfaceType))\n"
            out += "     " + effective.provenance.pathDescription + "\n"
        }
        return out
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
