public import PolicyModel

/// One source of IPsec policy: the persistent, local and cache stores, the directory, the dynamic rules
/// and third-party plugins all sit behind this protocol.
///
/// Who calls what, and when:
/// - ``name``, ``kind`` and ``rank`` are read by ``ProviderRegistry`` when the provider registers (at
///   engine start for the built-in providers, when the plugin host loads a plugin for the others) and
///   by the merger on every merge. They must not change while registered.
/// - ``currentPolicy()`` is called by the engine (``SourcesPolicyEngine``) on every merge: at service
///   start, after ``changes()`` yields, and on `service refresh`. It must return quickly from state the
///   provider already holds or can read cheaply; a provider that needs the network or a slow file does
///   that work in ``refresh()`` and reports the last result here.
/// - ``refresh()`` is called by the engine on `service refresh` / SIGHUP and by the polling timers; it
///   re-reads the source now. The default does nothing.
/// - ``changes()`` is called once by the registry at registration; the provider yields whenever its
///   policy may have changed (a store was written, a plugin pushed rules). The engine then merges again.
public protocol PolicyProvider: Sendable {
    /// A stable, unique name: `persistent`, `directory`, `plugin:cmdb`, ...
    var name: String { get }
    /// What kind of source this is; decides how the merger combines it (see ``SourceSelector``).
    var kind: SourceKind { get }
    /// Order among providers of the same kind (plugins): smaller merges first. For the directory, cache
    /// and local policies and directory-like plugins, the smaller rank wins (see ``SourceSelector``).
    var rank: Int { get }
    /// A plugin that competes by ``rank`` with the directory, cache and local policies instead of adding
    /// on top. `false` for every built-in provider.
    var isDirectoryLike: Bool { get }
    /// The provider's policy now, or why it has none.
    func currentPolicy() async -> ProviderReport
    /// Re-reads the source now.
    func refresh() async
    /// Yields whenever ``currentPolicy()`` may return something new.
    func changes() -> AsyncStream<Void>
}

extension PolicyProvider {
    public var rank: Int { kind.defaultRank }
    public var isDirectoryLike: Bool { false }
    public func refresh() async {}
}

extension SourceKind {
    /// The Windows order of the built-in kinds: persistent first, plugins last.
    public var defaultRank: Int {
        switch self {
        case .persistent: 0
        case .directory: 10
        case .directoryCache: 20
        case .local: 30
        case .dynamic: 40
        case .plugin: 100
        }
    }
}

/// What a provider reports: its policy, or why it has none.
public enum ProviderReport: Sendable, Hashable {
    /// A policy to merge.
    case policy(SourcePolicy)
    /// Nothing configured or assigned (no local policy assigned; the directory explicitly unassigned it).
    case notConfigured(reason: String?)
    /// The source cannot be reached now (directory snapshot missing, reachability check failed, the
    /// assigning GPO cannot be located). The directory's cached copy takes its place.
    case unavailable(reason: String)
    /// The source was read but is broken (a store with a syntax error, a plugin that crashed).
    case failed(reason: String)

    /// The policy, if the report carries one.
    public var policy: SourcePolicy? {
        if case .policy(let policy) = self { return policy }
        return nil
    }
}

/// A policy as one source contributes it, with what provenance needs to know about where it lives.
public struct SourcePolicy: Sendable, Hashable {
    /// The policy content: an assigned policy of a store, or ready-made filters.
    public enum Content: Sendable, Hashable {
        /// A store and the GUID of its policy that applies; the merger expands its active rules.
        case assigned(PolicyStore, policyID: IPsecGUID)
        /// Filters that already carry their provenance (dynamic rules, plugins).
        case filters([EffectiveFilter])
    }

    public var content: Content
    /// Display name of the policy (`Dynamic` for the dynamic rules).
    public var policyName: String
    public var policyID: IPsecGUID?
    /// The file or snapshot the policy was read from.
    public var store: String?
    /// Directory policy: the winning GPO's display name.
    public var gpo: String?
    /// Directory policy: the DN of the OU, domain or site whose link applied the GPO.
    public var linkedThrough: String?
    /// The policy's change time (`whenChanged`), compared by the directory's polling.
    public var whenChanged: Int64?

    public init(
        content: Content,
        policyName: String,
        policyID: IPsecGUID? = nil,
        store: String? = nil,
        gpo: String? = nil,
        linkedThrough: String? = nil,
        whenChanged: Int64? = nil
    ) {
        self.content = content
        self.policyName = policyName
        self.policyID = policyID
        self.store = store
        self.gpo = gpo
        self.linkedThrough = linkedThrough
        self.whenChanged = whenChanged
    }

    /// The assigned policy of a store, or `nil` when the store has none assigned or it is missing.
    public static func assigned(in store: PolicyStore, location: String?) -> SourcePolicy? {
        guard let policy = store.assignedPolicy else { return nil }
        return SourcePolicy(
            content: .assigned(store, policyID: policy.id),
            policyName: policy.name,
            policyID: policy.id,
            store: location,
            whenChanged: policy.whenChanged
        )
    }
}
