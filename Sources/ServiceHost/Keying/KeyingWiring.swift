import Driver
public import Keying
import PolicyModel

/// Builds the service's IKE keying from its configuration: the strongSwan engine with `ike =
/// strongswan` and the netfilter driver, nothing otherwise (the memory driver enforces nothing, so
/// SAs negotiated for it would protect nothing; and a trial service must not load rules into the
/// host's charon). One place to swap it (tests pass their own).
public enum KeyingFactory {
    public static func make(_ configuration: ServiceConfiguration, journal: any Journal) -> (any Keying)? {
        guard configuration.driver == .netfilter, let settings = configuration.keyingSettings else { return nil }
        let hosts = LinuxHostInfoSource()
        return KeyingEngine(
            settings: settings,
            events: JournalKeyingEventSink(journal: journal),
            hostSource: { KeyingHost(hosts.current()) }
        )
    }
}

/// Keying's events as journal entries: daemon connection changes, negotiation failures with their
/// reason, rules that cannot be negotiated, soft associations. Pre-shared keys never appear.
public struct JournalKeyingEventSink: KeyingEventSink {
    public var journal: any Journal

    public init(journal: any Journal) { self.journal = journal }

    public func keyingEvent(_ event: KeyingEvent) {
        journal.record(Self.entry(event))
    }

    static func entry(_ event: KeyingEvent) -> JournalEntry {
        func ruleFields(_ rule: RuleReference) -> [String: String] {
            ["IPSECSVC_SOURCE": rule.source, "IPSECSVC_POLICY": rule.policyName, "IPSECSVC_RULE": rule.ruleName]
        }
        switch event {
        case .daemonConnected(let version, let connections):
            return JournalEntry(
                .ikeDaemonConnected,
                "IKE: connected to \(version); \(connections) connections loaded.",
                fields: ["IPSECSVC_IKE_DAEMON": version]
            )
        case .daemonLost(let reason):
            return JournalEntry(
                .ikeDaemonLost,
                priority: .warning,
                "IKE: the IKE daemon (charon) is not available (\(reason)); negotiate filters behave as failed negotiations until it is back.",
                fields: ["IPSECSVC_REASON": reason]
            )
        case .loadFailed(let name, let reason):
            return JournalEntry(
                .ikeLoadFailed,
                priority: .error,
                "IKE: charon refused \(name): \(reason).",
                fields: ["IPSECSVC_IKE_CONNECTION": name, "IPSECSVC_REASON": reason]
            )
        case .negotiationFailed(let failure):
            var fields = ruleFields(failure.rule)
            fields["IPSECSVC_PEER"] = failure.peer.description
            fields["IPSECSVC_REASON"] = failure.reason.rawValue
            return JournalEntry(
                .ikeNegotiationFailed,
                priority: .warning,
                "IKE security association negotiation with \(failure.peer) failed: \(failure.reason.rawValue) (\(failure.detail)); rule \(failure.rule.label).",
                fields: fields
            )
        case .notNegotiable(let rule):
            var fields = ruleFields(rule.rule)
            fields["IPSECSVC_REASON"] = rule.reason
            return JournalEntry(
                .ikeNotNegotiable,
                priority: .warning,
                "IKE: rule \(rule.rule.label) \(rule.reason); its traffic is dropped as a failed negotiation.",
                fields: fields
            )
        case .softAssociationStarted(let peer, let rule):
            var fields = ruleFields(rule)
            fields["IPSECSVC_PEER"] = peer.description
            return JournalEntry(
                .ikeSoftAssociation,
                priority: .notice,
                "IKE: \(peer) did not answer; communication with it falls back to the clear (soft association, rule \(rule.label)).",
                fields: fields
            )
        case .softAssociationEnded(let peer, let reason):
            return JournalEntry(
                .ikeSoftAssociation,
                "IKE: the soft association with \(peer) ended: \(reason).",
                fields: ["IPSECSVC_PEER": peer.description, "IPSECSVC_REASON": reason]
            )
        case .negotiated(let peer, let rule):
            var fields = ruleFields(rule)
            fields["IPSECSVC_PEER"] = peer.description
            return JournalEntry(
                .ikeNegotiated,
                "IKE security associations established with \(peer) (rule \(rule.label)).",
                fields: fields
            )
        }
    }
}
