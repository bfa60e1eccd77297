import PolicyFormats
public import PolicyModel

#if canImport(Glibc)
import Glibc
#endif

/// The directory provider: this computer's IPsec policy from Active Directory, read by a
/// ``DirectoryReader`` (a domain controller over LDAP, or a snapshot file) and resolved with Group Policy
/// precedence by the one ``GroupPolicyResolver``.
///
/// Two timers drive it (the engine runs them): the policy's polling interval calls ``pollPolicy()``,
/// which reads only the change times (`whenChanged`) of the assigned policy and of every object it
/// references, and re-reads the objects when one differs; the group-policy refresh interval calls
/// ``refreshAssignments(trigger:)``, which reads the computer's place, the GPOs and the policy again.
/// ``refresh()`` (`service refresh`, SIGHUP) does the latter now. Reads never overlap: a request that
/// arrives while one runs waits for it (a refresh then runs once more, a poll does not).
public actor DirectoryProvider: PolicyProvider {
    public nonisolated let name = "directory"
    public nonisolated let kind = SourceKind.directory
    public nonisolated let configuration: DirectoryConfiguration
    public nonisolated let reader: (any DirectoryReader)?
    private let decoder: any DirectoryPolicyDecoder
    private let events: any PolicyEventSink
    private let signal = ChangeSignal()
    private var report: ProviderReport?
    /// What the last successful read assigned, for polling.
    private var assignment: Assignment?
    /// Consecutive failed reads, for the retry interval.
    private var failures = 0
    private var state: DirectoryStatus
    /// The read running now, and a refresh or poll waiting for it (joined by later requests).
    private var tail: Task<Bool, Never>?
    private var waiting: [DirectoryTrigger: Task<Bool, Never>] = [:]
    /// The last poll or full read, and the last full read: the timers count from them.
    private var pollAnchor = ContinuousClock.now
    private var refreshAnchor = ContinuousClock.now
    /// Whether the engine runs the timers (`status` then shows when they fire).
    private var timersRunning = false

    private struct Assignment {
        var gpo: AppliedGPO
        var policyDN: String
        var policyName: String
        /// The read the policy came from (the Group Policy part is kept for the polls).
        var read: DirectoryRead
        /// The policy's DN and the DNs of every object it references.
        var closure: [String]
        /// `whenChanged` by normalised DN, for the objects of ``closure`` that were read.
        var stamps: [String: String]
        var interval: UInt32
    }

    public init(
        configuration: DirectoryConfiguration,
        reader: (any DirectoryReader)?,
        decoder: any DirectoryPolicyDecoder,
        events: any PolicyEventSink = DiscardingEventSink()
    ) {
        self.configuration = configuration
        self.reader = reader
        self.decoder = decoder
        self.events = events
        state = DirectoryStatus(source: reader?.sourceDescription ?? "none")
    }

    public func currentPolicy() async -> ProviderReport {
        if let report { return report }
        // A read under way (the first one, usually) answers this call too.
        if let tail { _ = await Self.value(of: tail) }
        if let report { return report }
        await refreshAssignments(trigger: .start)
        return report ?? .notConfigured(reason: nil)
    }

    public func refresh() async { await refreshAssignments(trigger: .refresh) }

    public nonisolated func changes() -> AsyncStream<Void> { signal.stream() }

    /// Where the source stands, for `status`.
    public func status() -> DirectoryStatus {
        var status = state
        if timersRunning {
            status.nextPoll = Self.wallClock(nextPollDue())
            status.nextRefresh = Self.wallClock(nextRefreshDue())
        }
        return status
    }

    /// When the next policy poll is due: ``nextPollDelay()`` after the last poll or read. The engine's
    /// timer asks again after every poll and at least once a minute, so a new interval (another policy,
    /// a failure's retry schedule) takes effect without a restart.
    public func nextPollDue() -> ContinuousClock.Instant { pollAnchor + nextPollDelay() }

    /// When the next group-policy refresh is due: the refresh interval after the last full read.
    public func nextRefreshDue() -> ContinuousClock.Instant { refreshAnchor + configuration.groupPolicyRefreshInterval }

    /// The engine runs the timers (so `status` shows when they fire).
    public func timersStarted() { timersRunning = true }

    /// Re-evaluates the assignments and reads the assigned policy (group-policy refresh).
    public func refreshAssignments(trigger: DirectoryTrigger = .groupPolicyRefresh) async {
        _ = await serialized(trigger == .poll ? .groupPolicyRefresh : trigger) { provider in
            await provider.readAll(trigger)
        }
    }

    /// Reads the change times of the assigned policy and of every object it references, and re-reads the
    /// objects if one differs (policy polling). After a failed read, a poll reads everything again.
    /// - Returns: whether the reported policy changed.
    @discardableResult
    public func pollPolicy() async -> Bool {
        await serialized(.poll) { provider in await provider.poll() }
    }

    /// The delay before the next policy poll: the configured override, else the policy's own interval;
    /// after failed reads Windows' retry schedule `min((I + 1)², 166)` minutes, but never longer than the
    /// normal interval.
    public func nextPollDelay() -> Duration {
        let seconds = assignment?.interval ?? IPsecPolicy.defaultPollingIntervalSeconds
        let normal =
            configuration.pollingInterval
            ?? .seconds(Int(seconds == 0 ? IPsecPolicy.defaultPollingIntervalSeconds : seconds))
        guard failures > 0 else { return normal }
        var minutes = 0
        for _ in 0..<failures { minutes = min((minutes + 1) * (minutes + 1), 166) }
        return min(.seconds(minutes * 60), normal)
    }

    // MARK: - Reads, one at a time

    /// Runs `work` after the read in progress; a second request of the same kind joins the waiting one.
    private func serialized(
        _ key: DirectoryTrigger,
        _ work: @escaping @Sendable (isolated DirectoryProvider) async -> Bool
    ) async -> Bool {
        if let pending = waiting[key] { return await Self.value(of: pending) }
        let previous = tail
        let task = Task {
            _ = await previous?.value
            self.started(key)
            return await work(self)
        }
        waiting[key] = task
        tail = task
        return await Self.value(of: task)
    }

    /// `task`'s value, unless the calling task is cancelled first (the service stops): then `task` is
    /// cancelled too (a running `directory_check` is killed) and this returns `false` at once, without
    /// waiting for an LDAP read that a silent DC holds on the blocking pool for up to its timeout.
    private static func value(of task: Task<Bool, Never>) async -> Bool {
        let waiter = Locked<CheckedContinuation<Bool, Never>?>(nil)
        let resume: @Sendable (Bool) -> Void = { value in
            var continuation: CheckedContinuation<Bool, Never>?
            waiter.update { swap(&continuation, &$0) }
            continuation?.resume(returning: value)
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                waiter.update { $0 = continuation }
                Task { resume(await task.value) }
                if Task.isCancelled { resume(false) }
            }
        } onCancel: {
            task.cancel()
            resume(false)
        }
    }

    private func started(_ key: DirectoryTrigger) { waiting[key] = nil }

    private func readAll(_ trigger: DirectoryTrigger) async -> Bool {
        pollAnchor = .now
        refreshAnchor = .now
        guard let reader else {
            return update(.notConfigured(reason: "no directory is configured"))
        }
        state.lastAttempt = Self.now()
        if let reason = await unreachableReason() {
            return fail(DirectoryReadError(.unavailable, "the directory cannot be reached: \(reason)"), trigger)
        }
        let read: DirectoryRead
        do {
            read = try await reader.readForGroupPolicy()
        } catch {
            return fail(error, trigger)
        }
        state.server = read.server
        state.computerDN = read.computerDN
        state.lastReadObjects = read.entries.count
        state.lastReadRequests = read.requests
        let resolution: GPOResolution
        do {
            resolution = try GroupPolicyResolver.resolve(in: read.tree, computerDN: read.computerDN, site: read.site)
        } catch {
            return fail(DirectoryReadError(.unavailable, server: read.server, error.description), trigger)
        }
        state.appliedGPOs = resolution.gpos.map(\.displayName)
        switch resolution.outcome {
        case .noneAssigned:
            assignment = nil
            succeeded(gpo: nil)
            let reason = "none of the \(resolution.gpos.count) applying GPOs carries an IPsec assignment"
            record(.unassigned, trigger, server: read.server, gpo: nil, policy: nil, reason: reason)
            return update(.notConfigured(reason: "no GPO that applies to this computer assigns an IPsec policy"))
        case .notLocatable(let reason):
            return fail(DirectoryReadError(.unavailable, server: read.server, reason), trigger)
        case .assigned(let gpo, let policyDN):
            return apply(read, gpo: gpo, policyDN: policyDN, trigger: trigger, reason: "linked to \(gpo.linkedThrough)")
        }
    }

    private func poll() async -> Bool {
        pollAnchor = .now
        guard let reader, let current = assignment, failures == 0 else {
            // Nothing assigned: the group-policy refresh looks for assignments. After a failure: read all.
            return failures > 0 ? await readAll(.poll) : false
        }
        state.lastAttempt = Self.now()
        if let reason = await unreachableReason() {
            return fail(DirectoryReadError(.unavailable, "the directory cannot be reached: \(reason)"), .poll)
        }
        let stamps: [String: String]
        do {
            stamps = try await reader.changeStamps(of: current.closure)
        } catch {
            return fail(error, .poll)
        }
        let changed = current.closure.filter { stamps[DN.normalize($0)] != current.stamps[DN.normalize($0)] }
        if changed.isEmpty, case .policy = report {
            succeeded(gpo: current.gpo.displayName)
            record(
                .unchanged,
                .poll,
                server: reader.lastServer ?? current.read.server,
                gpo: current.gpo.displayName,
                policy: current.policyName,
                reason: "no change time of its \(current.closure.count) objects differs"
            )
            return false
        }
        let objects: [DirectoryEntry]
        do {
            objects = try await reader.readPolicyObjects(current.policyDN)
        } catch {
            return fail(error, .poll)
        }
        var read = current.read.replacingPolicyObjects(Set(current.closure.map(DN.normalize)), with: objects)
        read.server = reader.lastServer ?? read.server
        guard read.tree.entry(current.policyDN) != nil else {
            let reason =
                "the IPsec policy \(current.policyDN) assigned by GPO \(current.gpo.displayName) cannot be found"
            return fail(DirectoryReadError(.unavailable, server: read.server, reason), .poll)
        }
        let which = changed.count <= 3 ? changed.joined(separator: "; ") : "\(changed.count) objects"
        return apply(read, gpo: current.gpo, policyDN: current.policyDN, trigger: .poll, reason: "\(which) changed")
    }

    @discardableResult
    private func apply(
        _ read: DirectoryRead,
        gpo: AppliedGPO,
        policyDN: String,
        trigger: DirectoryTrigger,
        reason: String
    ) -> Bool {
        let tree = read.tree
        let store: PolicyStore
        do {
            store = try decoder.decodePolicy(at: policyDN, in: tree)
        } catch {
            return fail(DirectoryReadError(.invalid, server: read.server, error.description), trigger)
        }
        guard var policy = SourcePolicy.assigned(in: store, location: read.server) else {
            return fail(DirectoryReadError(.invalid, server: read.server, "\(policyDN) decoded to no policy"), trigger)
        }
        policy.gpo = gpo.displayName
        policy.linkedThrough = gpo.linkedThrough
        let closure = IPsecObjectReferences.closure(of: policyDN) { tree.sourceEntry($0) }
        var stamps: [String: String] = [:]
        for dn in closure {
            if let entry = tree.entry(dn) { stamps[DN.normalize(dn)] = entry.value("whenChanged") ?? "" }
        }
        assignment = Assignment(
            gpo: gpo,
            policyDN: policyDN,
            policyName: policy.policyName,
            read: read,
            closure: closure,
            stamps: stamps,
            interval: store.assignedPolicy?.effectivePollingIntervalSeconds ?? 0
        )
        succeeded(gpo: gpo.displayName)
        let changed = update(.policy(policy))
        record(
            changed ? .applied : .unchanged,
            trigger,
            server: read.server,
            gpo: gpo.displayName,
            policy: policy.policyName,
            reason: reason
        )
        return changed
    }

    private func unreachableReason() async -> String? {
        guard let check = configuration.reachability else { return nil }
        return await check.unreachableReason()
    }

    private func succeeded(gpo: String?) {
        state.lastSuccess = Self.now()
        state.failure = nil
        state.gpo = gpo
    }

    @discardableResult
    private func fail(_ error: DirectoryReadError, _ trigger: DirectoryTrigger) -> Bool {
        // Cancelled: the service stops. A read it cut short says nothing about the directory.
        guard !Task.isCancelled else { return false }
        state.failure = error.message
        if let server = error.server { state.server = server }
        record(
            error.kind == .invalid ? .failed : .unavailable,
            trigger,
            server: error.server ?? state.server,
            gpo: assignment?.gpo.displayName,
            policy: assignment?.policyName,
            reason: error.message
        )
        return update(error.kind == .invalid ? .failed(reason: error.message) : .unavailable(reason: error.message))
    }

    private func record(
        _ outcome: DirectoryDecision.Outcome,
        _ trigger: DirectoryTrigger,
        server: String?,
        gpo: String?,
        policy: String?,
        reason: String
    ) {
        events.record(
            .directoryDecision(
                DirectoryDecision(outcome, trigger: trigger, server: server, gpo: gpo, policy: policy, reason: reason)
            )
        )
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

    private static func now() -> Int64 { Int64(time(nil)) }

    private static func wallClock(_ instant: ContinuousClock.Instant) -> Int64 {
        now() + (instant - ContinuousClock.now).components.seconds
    }
}
