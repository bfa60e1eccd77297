public import PolicyModel

/// Everything ``SourcesPolicyEngine`` needs: where the stores are, the directory, and the collaborators
/// that tests replace.
public struct SourcesConfiguration: Sendable {
    public var state: StateDirectory
    /// `nil`: this computer uses no directory (the cache is then never used).
    public var directory: DirectoryConfiguration?
    public var codec: any PolicyStoreCodec
    public var snapshotReader: any DirectorySnapshotReader
    /// Replaces the reader ``directory`` names (tests read a directory built in code through it).
    public var directoryReader: (any DirectoryReader)?
    public var policyDecoder: any DirectoryPolicyDecoder
    public var events: any PolicyEventSink
    /// Whether the engine runs the directory's polling and group-policy refresh timers itself.
    public var runsTimers: Bool
    /// Read-only engines (offline `policy show --effective`) never write or drop the directory cache.
    public var readOnly: Bool
    /// What the service writes at start when there is no local store yet (its first start).
    public var firstLocalStore: FirstLocalStore

    public init(
        state: StateDirectory,
        directory: DirectoryConfiguration? = nil,
        codec: any PolicyStoreCodec = NativeXMLStoreCodec(),
        snapshotReader: any DirectorySnapshotReader = FormatsSnapshotReader(),
        directoryReader: (any DirectoryReader)? = nil,
        policyDecoder: any DirectoryPolicyDecoder = FormatsPolicyDecoder(),
        events: any PolicyEventSink = DiscardingEventSink(),
        runsTimers: Bool = true,
        readOnly: Bool = false,
        firstLocalStore: FirstLocalStore = .leaveMissing
    ) {
        self.state = state
        self.directory = directory
        self.codec = codec
        self.snapshotReader = snapshotReader
        self.directoryReader = directoryReader
        self.policyDecoder = policyDecoder
        self.events = events
        self.runsTimers = runsTimers
        self.readOnly = readOnly
        self.firstLocalStore = firstLocalStore
    }
}

/// The local store a first start creates (``ExamplePolicies/createLocalStoreIfMissing(in:examples:codec:)``).
public enum FirstLocalStore: Hashable, Sendable {
    /// Windows' three example policies, unassigned: what a fresh Windows install has.
    case examples
    /// An empty store (`examples = no`, `ipsecsvc run --no-examples`).
    case empty
    /// Nothing is written (read-only engines, tests of other things).
    case leaveMissing
}

/// The effective policy with the state of every source: what `policy show --effective` prints.
public struct EffectiveReport: Hashable, Sendable, Codable {
    public var policy: EffectivePolicy
    public var sources: [SourceStatus]
    public var driverMode: RequiredDriverMode

    public init(policy: EffectivePolicy, sources: [SourceStatus], driverMode: RequiredDriverMode) {
        self.policy = policy
        self.sources = sources
        self.driverMode = driverMode
    }
}

/// The persistent policy could not be applied: the host removes its filters and blocks.
public struct PersistentPolicyError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { "the persistent IPsec policy could not be applied: \(reason)" }
}
