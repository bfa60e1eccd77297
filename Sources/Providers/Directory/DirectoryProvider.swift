import IPsecSystem
import PolicyFormats
public import PolicyModel

/// The directory (AD-XML) provider: this computer's IPsec policy from a directory snapshot, resolved with
/// Group Policy precedence (``GroupPolicyResolver``).
///
/// Two timers drive it (the engine runs them): the policy's polling interval calls ``pollPolicy()``,
/// which re-reads only the assigned policy and compares its change time; the group-policy refresh interval
/// calls ``refreshAssignments()``, which re-evaluates which GPO assigns what. ``refresh()`` does both now.
public actor DirectoryProvider: PolicyProvider {
    public nonisolated let name = "directory"
    public nonisolated let kind = SourceKind.directory
    public nonisolated let configuration: DirectoryConfiguration
    private let reader: any DirectorySnapshotReader
    private let decoder: any DirectoryPolicyDecoder
    private let signal = ChangeSignal()
    private var report: ProviderReport?
    /// What the last successful read assigned, for polling.
    private var assignment: (gpo: AppliedGPO, policyDN: String, stamp: String?, interval: UInt32)?
    /// Consecutive failed reads, for the retry interval.
    private var failures = 0

    public init(
        configuration: DirectoryConfiguration,
        reader: any DirectorySnapshotReader,
        decoder: any DirectoryPolicyDecoder
    ) {
        self.configuration = configuration
        self.reader = reader
        self.decoder = decoder
    }

    public func currentPolicy() async -> ProviderReport {
        if let report { return report }
        await refreshAssignments()
        return report ?? .notConfigured(reason: nil)
    }

    public func refresh() async { await refreshAssignments() }

    public nonisolated func changes() -> AsyncStream<Void> { signal.stream() }

    /// Re-evaluates the assignments and reads the assigned policy (group-policy refresh).
    public func refreshAssignments() async {
        guard let path = configuration.snapshotPath else {
            update(.notConfigured(reason: "no directory is configured"))
            return
        }
        let tree: DirectoryTree
        switch await readTree(path) {
        case .success(let read): tree = read
        case .failure(let reason):
            update(.unavailable(reason: reason))
            return
        }
        let resolution: GPOResolution
        do {
            resolution = try GroupPolicyResolver.resolve(
                in: tree,
                computerDN: configuration.computerDN,
                site: configuration.site
            )
        } catch {
            update(.unavailable(reason: error.description))
            return
        }
        switch resolution.outcome {
        case .noneAssigned:
            assignment = nil
            update(.notConfigured(reason: "no GPO that applies to this computer assigns an IPsec policy"))
        case .notLocatable(let reason):
            update(.unavailable(reason: reason))
        case .assigned(let gpo, let policyDN):
            read(policyDN, gpo: gpo, in: tree, path: path)
        }
    }

    /// Re-reads the assigned policy and applies it if its change time differs (policy polling).
    /// - Returns: whether the policy changed.
    @discardableResult
    public func pollPolicy() async -> Bool {
        guard let assignment, let path = configuration.snapshotPath else { return false }
        let tree: DirectoryTree
        switch await readTree(path) {
        case .success(let read): tree = read
        case .failure(let reason):
            update(.unavailable(reason: reason))
            return true
        }
        guard let entry = tree.entry(assignment.policyDN) else {
            update(.unavailable(reason: "the IPsec policy \(assignment.policyDN) cannot be found"))
            return true
        }
        if case .policy = report, entry.value("whenChanged") == assignment.stamp { return false }
        return read(assignment.policyDN, gpo: assignment.gpo, in: tree, path: path)
    }

    /// The delay before the next policy poll: the configured override, else the policy's own interval;
    /// after failed reads, Windows' retry schedule `min((I + 1)², 166)` minutes.
    public func nextPollDelay() -> Duration {
        if failures > 0 {
            var minutes = 0
            for _ in 0..<failures { minutes = min((minutes + 1) * (minutes + 1), 166) }
            return .seconds(minutes * 60)
        }
        if let override = configuration.pollingInterval { return override }
        let seconds = assignment?.interval ?? IPsecPolicy.defaultPollingIntervalSeconds
        return .seconds(Int(seconds == 0 ? IPsecPolicy.defaultPollingIntervalSeconds : seconds))
    }

    @discardableResult
    private func read(_ policyDN: String, gpo: AppliedGPO, in tree: DirectoryTree, path: String) -> Bool {
        let store: PolicyStore
        do {
            store = try decoder.decodePolicy(at: policyDN, in: tree)
        } catch {
            return update(.failed(reason: error.description))
        }
        guard var policy = SourcePolicy.assigned(in: store, location: path) else {
            return update(.failed(reason: "\(policyDN) decoded to no policy"))
        }
        policy.gpo = gpo.displayName
        policy.linkedThrough = gpo.linkedThrough
        let stamp = tree.entry(policyDN)?.value("whenChanged")
        assignment = (gpo, policyDN, stamp, store.assignedPolicy?.effectivePollingIntervalSeconds ?? 0)
        return update(.policy(policy))
    }

    private enum TreeRead {
        case success(DirectoryTree)
        case failure(String)
    }

    private func readTree(_ path: String) async -> TreeRead {
        if let check = configuration.reachability, let reason = await check.unreachableReason() {
            return .failure("the directory cannot be reached: \(reason)")
        }
        let reader = self.reader
        let result: Result<DirectoryTree?, PolicyFormatError> = await BlockingPool.shared.run {
            do throws(PolicyFormatError) {
                return .success(try reader.read(path: path))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(.some(let tree)): return .success(tree)
        case .success(.none): return .failure("the directory snapshot \(path) does not exist")
        case .failure(let error): return .failure("the directory snapshot cannot be read: \(error.description)")
        }
    }

    @discardableResult
    private func update(_ new: ProviderReport) -> Bool {
        switch new {
        case .unavailable, .failed: failures += 1
        default: failures = 0
        }
        guard new != report else { return false }
        report = new
        signal.signal()
        return true
    }
}
