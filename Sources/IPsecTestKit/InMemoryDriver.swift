public import DecisionCore
public import Driver
public import PolicyModel

/// A driver that records every call instead of touching the kernel: the test double for the service
/// host and everything above it.
public actor InMemoryDriver: IPsecDriver {
    /// One recorded call.
    public enum Event: Hashable, Sendable {
        case startupMode(StartupMode, [BootExemption])
        case operationalMode(OperationalMode)
        case applied(generation: UInt64, filters: Int)
        case configured(DriverSettings)
    }

    public private(set) var events: [Event] = []
    public private(set) var mode: DriverMode?
    public private(set) var policy: EffectivePolicy = .empty
    public private(set) var settings = DriverSettings()
    /// The counters ``status()`` reports (tests set them with ``setCounters(_:)``).
    public private(set) var counters = DriverCounters()
    /// The last peer view keying sent (``updatePeerAssociations(_:)``).
    public private(set) var peerAssociations = PeerAssociations.none
    /// When set, ``apply(_:)`` throws it (to test the block-mode fallback).
    public var failNextApply: (any Error)?
    /// The host ``decisionState()`` reports.
    public var host: HostInfo
    private var exemptions: [BootExemption] = []
    /// Whether the next ``apply(_:)`` is held (``holdNextApply()``), and the one held now.
    private var holdsNextApply = false
    private var held: (generation: UInt64, release: CheckedContinuation<Void, Never>)?
    private var heldWatchers: [CheckedContinuation<UInt64, Never>] = []

    public init(host: HostInfo = HostInfo()) { self.host = host }

    public func enterStartupMode(_ mode: StartupMode, exemptions: [BootExemption]) async throws {
        self.mode = .startup(mode)
        self.exemptions = exemptions
        events.append(.startupMode(mode, exemptions))
    }

    public func enterOperationalMode(_ mode: OperationalMode) async throws {
        self.mode = .operational(mode)
        events.append(.operationalMode(mode))
    }

    public func apply(_ policy: EffectivePolicy) async throws {
        if holdsNextApply {
            holdsNextApply = false
            await withCheckedContinuation { release in
                held = (policy.generation, release)
                for watcher in heldWatchers { watcher.resume(returning: policy.generation) }
                heldWatchers = []
            }
        }
        if let error = failNextApply {
            failNextApply = nil
            throw error
        }
        self.policy = policy
        events.append(.applied(generation: policy.generation, filters: policy.filters.count))
    }

    public func updatePeerAssociations(_ peers: PeerAssociations) async {
        peerAssociations = peers
    }

    public func configure(_ settings: DriverSettings) async throws {
        self.settings = settings
        events.append(.configured(settings))
    }

    public func status() async -> DriverStatus {
        DriverStatus(
            mode: mode,
            tableGeneration: policy.generation,
            filterCount: policy.filters.count,
            counters: counters
        )
    }

    public func decisionState() async -> DriverDecisionState {
        DriverDecisionState(
            settings: DecisionSettings(
                mode: mode,
                exemptionLevel: settings.exemptionLevel,
                bootExemptions: exemptions
            ),
            host: host
        )
    }

    /// Sets the counters ``status()`` reports.
    public func setCounters(_ counters: DriverCounters) { self.counters = counters }

    public func setFailNextApply(_ error: (any Error)?) { failNextApply = error }

    /// The next ``apply(_:)`` waits, before it takes its policy, until ``releaseHeldApply()``: a driver
    /// call still under way, for tests of what overtakes it.
    public func holdNextApply() { holdsNextApply = true }

    /// The generation of the apply being held, once one is (waits for it).
    public func heldApply() async -> UInt64 {
        if let held { return held.generation }
        return await withCheckedContinuation { heldWatchers.append($0) }
    }

    /// Lets the held apply go on (it takes its policy as it returns).
    public func releaseHeldApply() {
        held?.release.resume()
        held = nil
    }

    /// The generations of the tables applied, in the order the driver took them.
    public var appliedGenerations: [UInt64] {
        events.compactMap {
            if case .applied(let generation, _) = $0 { generation } else { nil }
        }
    }
}
