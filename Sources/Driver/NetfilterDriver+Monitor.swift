import DecisionCore
import IPsecSystem
import PolicyModel

/// The driver's own periodic work: re-reading the host (`me`, servers, interfaces), comparing the kernel
/// rules with the mode, and the `ipsecloginterval` summary. Each check is a control call of its own,
/// taking its turn with the agent's (``NetfilterDriver/oneAtATime(_:)``).
///
/// The work runs in ``NetfilterDriver/monitor()``, which its owner runs as long as it owns the driver
/// (the driver process: a `Service` of its `ServiceGroup`): it is structured, never a task the driver
/// starts and cancels itself. The checks run only while the driver is in a mode it was given (from the
/// first mode until ``NetfilterDriver/shutdown()``).
extension NetfilterDriver {
    /// Runs the periodic checks and the summary until the calling task is cancelled.
    public func monitor() async {
        let clock = ContinuousClock()
        let hookInterval = configuration.hookCheckInterval
        let hostInterval = configuration.hostCheckInterval
        var nextHookCheck = clock.now + min(hookInterval, hostInterval)
        var nextHostCheck = clock.now + hostInterval
        while !Task.isCancelled {
            // A summary that became due (or was rescheduled) meanwhile is seen within one hook interval.
            var wake = min(nextHookCheck, nextHostCheck)
            if let due = summarySchedule?.due { wake = min(wake, due) }
            do {
                try await Task.sleep(until: wake, clock: clock)
            } catch {
                return
            }
            let now = clock.now
            if now >= nextHookCheck {
                nextHookCheck = now + min(hookInterval, hostInterval)
                if monitoring { await checkHooks() }
            }
            if now >= nextHostCheck {
                nextHostCheck = now + hostInterval
                if monitoring { await checkHost() }
            }
            if let schedule = summarySchedule, clock.now >= schedule.due, monitoring {
                summarySchedule = (schedule.seconds, clock.now + .seconds(schedule.seconds))
                await emitSummary()
            }
        }
    }

    /// The checks and the summary take part from now on (a mode was set); the first summary comes one
    /// `ipsecloginterval` after the first mode.
    func resumeMonitoring() {
        monitoring = true
        if summarySchedule == nil { rescheduleSummary() }
    }

    /// The next summary one `ipsecloginterval` from now (the interval was set or changed).
    func rescheduleSummary() {
        let seconds = max(1, settings.logIntervalSeconds)
        summarySchedule = (seconds, ContinuousClock.now + .seconds(seconds))
    }

    /// After the service's stop: no checks, no summaries until a mode is set again.
    func pauseMonitoring() {
        monitoring = false
        summarySchedule = nil
    }

    /// Re-resolves `me` and special servers; recompiles when the host's configuration changed.
    func checkHost() async {
        try? await oneAtATime { await recheckHost() }
    }

    private func recheckHost() async {
        // The reader blocks on files: off the actor, so that packets' control calls are not held up.
        let source = configuration.hostInfo
        let current = await BlockingPool.shared.run { source.current() }
        guard current != host else { return }
        host = current
        table = FilterCompiler.compile(policy, host: host)
        do {
            try await republish()
        } catch {
            configuration.eventSink.event(
                "could not update the fast-path rule after an address change: \(error)",
                priority: 3
            )
        }
    }

    /// Compares the kernel rules with the mode and restores them when another program removed or
    /// changed them (an `iptables-restore` without `--noflush`, `iptables -F`, ...); reads the drop
    /// counters of the kernel-only modes on the way.
    func checkHooks() async {
        try? await oneAtATime { await recheckHooks() }
    }

    private func recheckHooks() async {
        guard configuration.installsHooks, let state = hookState, state != .removed else { return }
        for family in IPFamily.allCases {
            let existing: ExistingHooks
            do {
                existing = try await installer.inspect(family)
            } catch {
                continue  // the save tool failed or timed out: try again at the next check
            }
            kernel.read(existing, family: family, mode: state.kernelDropMode, configuration: configuration.hooks)
            let problems = existing.problems(
                for: state,
                family: family,
                configuration: configuration.hooks,
                dropLogging: dropLogging
            )
            guard !problems.isEmpty else { continue }
            let damage = problems.joined(separator: "; ")
            kernel.restored &+= 1
            kernel.lastDamage = damage
            do {
                let before = try await installer.apply(state, family: family, dropLogging: dropLogging)
                kernel.replaced([family: before], mode: state.kernelDropMode, configuration: configuration.hooks)
                configuration.eventSink.event(
                    "another program changed the IPSec driver's kernel rules (\(damage)); they were restored "
                        + "for \(mode.map { "\($0)" } ?? "the current") mode",
                    priority: 3
                )
            } catch {
                configuration.eventSink.event(
                    "another program changed the IPSec driver's kernel rules (\(damage)) and they could not "
                        + "be restored: \(error)",
                    priority: 2
                )
            }
        }
    }

    /// The periodic summary event (`ipsecloginterval`).
    func emitSummary() async {
        let counters = await status().counters
        let now = counters.decisions ?? DriverCounters.Decisions()
        let last = lastSummary.decisions ?? DriverCounters.Decisions()
        func delta(_ value: (DriverCounters.Decisions) -> UInt64) -> UInt64 { value(now) &- value(last) }
        let text =
            "summary: \(delta(\.packets)) packets decided, \(delta(\.drops)) dropped "
            + "(blocked \(delta { $0.drops(.blocked) }), negotiation required \(delta { $0.drops(.negotiationRequired) }), "
            + "malformed \(delta { $0.drops(.malformed) })), queue drops \(counters.queueDrops &- lastSummary.queueDrops), "
            + "suppressed events \(delta(\.suppressedEvents)); table generation \(table.generation), "
            + "\(table.filters.count) specific filters"
        lastSummary = counters
        configuration.eventSink.event(text, priority: 6)
    }
}
