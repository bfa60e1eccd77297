public import DecisionCore
public import Keying
public import PolicyModel
import Synchronization

/// A keying double for the service host's tests: records what it is told and publishes the peer
/// views a test hands it.
public actor RecordingKeying: Keying {
    public private(set) var started = false
    public private(set) var stopped = false
    /// Generations of the policies applied, in order.
    public private(set) var applied: [UInt64] = []
    /// Generations of the policies applied after ``stop()`` (a stopped service's keying must get none).
    public private(set) var appliedAfterStop: [UInt64] = []
    private let requests = Mutex<[KeyingRequest]>([])
    private var watchers: [AsyncStream<PeerAssociations>.Continuation] = []
    private var current = PeerAssociations.none
    /// What ``status()`` answers.
    public var reported = KeyingStatus(mode: "strongswan", viciSocket: "/test/charon.vici", datapath: "libipsec")

    public init() {}

    public nonisolated func submit(_ request: KeyingRequest) { requests.withLock { $0.append(request) } }

    public nonisolated var submitted: [KeyingRequest] { requests.withLock { $0 } }

    public func start() async { started = true }

    /// Nothing runs in the background.
    public nonisolated func run() async {}

    public func apply(_ policy: EffectivePolicy) async {
        applied.append(policy.generation)
        if stopped { appliedAfterStop.append(policy.generation) }
    }

    public func peerAssociations() async -> AsyncStream<PeerAssociations> {
        let (stream, continuation) = AsyncStream<PeerAssociations>.makeStream(bufferingPolicy: .bufferingNewest(8))
        continuation.yield(current)
        watchers.append(continuation)
        return stream
    }

    /// Publishes a new peer view to every watcher.
    public func publish(_ peers: PeerAssociations) {
        current = peers
        for watcher in watchers { watcher.yield(peers) }
    }

    public func status() async -> KeyingStatus { reported }

    public func associations() async throws(KeyingError) -> KeyingAssociations { KeyingAssociations() }

    public func peerState(_ peer: IPv4Address) async -> PeerKeyingState {
        PeerKeyingState(enabled: true, softAssociation: current.softPeers.contains(peer))
    }

    public func stop() async {
        stopped = true
        for watcher in watchers { watcher.finish() }
        watchers = []
    }
}
