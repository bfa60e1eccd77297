public import PolicyModel

/// The dynamic policy source: the one copy of the dynamic SPD (`netsh ipsec dynamic` policies and
/// rules), in memory only, so it vanishes when the service stops (it is never written).
///
/// The service host's netsh handler replaces it as a whole, one ``replace(_:)`` per command or script,
/// under its own transaction lock: the engine merges either the old or the new rules, never a mix.
/// The `set config` settings are not kept here: they persist in `dynamic-settings.conf`, whose only
/// reader and writer is the service host's `ServiceStateStore`.
public actor DynamicStore: PolicyProvider {
    public nonisolated let name = "dynamic"
    public nonisolated let kind = SourceKind.dynamic
    /// The dynamic SPD now.
    public private(set) var policy = DynamicPolicy()
    private let signal = ChangeSignal()

    public init() {}

    /// Replaces the dynamic SPD; when it changed, the change signal makes the engine merge at once.
    public func replace(_ new: DynamicPolicy) {
        guard new != policy else { return }
        policy = new
        signal.signal()
    }

    public func currentPolicy() async -> ProviderReport {
        guard !policy.rules.isEmpty else { return .notConfigured(reason: "no dynamic rules") }
        return .policy(SourcePolicy(content: .filters(policy.effectiveFilters(source: name)), policyName: "Dynamic"))
    }

    public nonisolated func changes() -> AsyncStream<Void> { signal.stream() }
}
