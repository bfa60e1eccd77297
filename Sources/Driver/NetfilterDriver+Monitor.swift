import DecisionCore
import IPsecSystem
import PolicyModel

/// The driver's own periodic work: re-reading the host (`me`, servers, interfaces), comparing the kernel
/// rules with the mode, and the `ipsecloginterval` summary. Each check is a control call of its own,
/// taking its turn with the agent's (``NetfilterDriver/oneAtATime(_:)``).
extension NetfilterDriver {
    func startTasks() {
        if monitor == nil {
            let hostInterval = configuration.hostCheckInterval
            let hookInterval = configuration.hookCheckInterval
            monitor = Task { [weak self] in
                let clock = ContinuousClock()
                var nextHostCheck = clock.now + hostInterval
                while !Task.isCancelled {
                    try? await Task.sleep(for: min(hookInterval, hostInterval))
                    guard let self else { return }
                    await self.checkHooks()
                    if clock.now >= nextHostCheck {
                        nextHostCheck = clock.now + hostInterval
                        await self.checkHost()
                    }
                }
            }
        }
        if summary == nil {
            let seconds = max(1, settings.logIntervalSeconds)
            summary = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(seconds))
                    guard !Task.isCancelled, let self else { return }
                    await self.emitSummary()
                }
            }
        }
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
        func delta(_ name: String) -> UInt64 { (counters[name] ?? 0) &- (lastSummary[name] ?? 0) }
        let text =
            "summary: \(delta("packets")) packets decided, \(delta("drops")) dropped "
            + "(blocked \(delta("drops.blocked")), negotiation required \(delta("drops.negotiation-required")), "
            + "malformed \(delta("drops.malformed"))), queue drops \(delta("queue.dropped.full") &+ delta("queue.dropped.socket")), "
            + "suppressed events \(delta("events.suppressed")); table generation \(table.generation), "
            + "\(table.filters.count) specific filters"
        lastSummary = counters
        configuration.eventSink.event(text, priority: 6)
    }
}
