import DecisionCore
import Driver
import IPsecTestKit
import PolicyModel
import Providers
import ServiceHost
import Synchronization
import Testing

/// A stop while a policy hand-over is under way: nothing of that hand-over, or of one waiting its turn,
/// reaches the driver or keying after the stop's permit mode, and a hung driver call does not hold the
/// stop beyond ``PolicyAgent/handOverWaitAtStop`` (DESIGN.md §1, "One hand-over at a time").
@Suite struct PolicyHandOverStopTests {
    /// A change held inside the driver when the stop comes, and one waiting its turn behind it: the stop
    /// waits for the held one, which reaches the driver and keying before the permit mode and keying's
    /// stop; the waiting one sends nothing.
    @Test(.timeLimit(.minutes(2))) func aHandOverUnderWayEndsBeforeThePermitMode() async throws {
        let fixture = HandOverFixture(waitAtStop: .seconds(90))  // longer than the test: it releases the call
        defer { fixture.directory.remove() }
        let (agent, driver, keying, engine) = (fixture.agent, fixture.driver, fixture.keying, fixture.engine)
        let (held, heldGeneration) = try await fixture.startWithAHeldChange()
        await engine.dynamic.replace(PolicyHandOverOrderTests.dynamicPolicy(blocking: 2))
        let waiting = Task { await agent.policyChanged() }
        let stop = Task { try await agent.stop() }
        #expect(await eventually { await agent.state != .running })
        await driver.releaseHeldApply()
        try await stop.value
        await held.value
        await waiting.value

        #expect(await agent.state == .stopped)
        let events = await driver.events
        let permit = try #require(events.lastIndex(of: .operationalMode(.permit)), "\(events)")
        let heldApplied = events.firstIndex { if case .applied(heldGeneration, _) = $0 { true } else { false } }
        #expect(heldApplied.map { $0 < permit } == true, "the held table reached the driver after permit: \(events)")
        #expect(await fixture.driverEventsAfterPermit() == [], "\(events)")
        let keyed = await keying.applied
        #expect(keyed.last == heldGeneration, "keying took \(keyed)")
        #expect(await keying.appliedAfterStop == [])
        #expect(fixture.gaveUpEntries.isEmpty)
    }

    /// A driver call that does not return: the stop waits its bound, journals that it gave up, puts the
    /// driver in permit mode and stops keying while the call is still held; when the call ends at last,
    /// keying gets nothing and the driver's mode stays permit (and, when it failed, no entry claims that
    /// filters stay in force).
    @Test(.timeLimit(.minutes(2)), arguments: [false, true])
    func aHungHandOverDoesNotHoldTheStop(callFailsAtLast: Bool) async throws {
        let fixture = HandOverFixture(waitAtStop: .milliseconds(200))
        defer { fixture.directory.remove() }
        let (agent, driver, keying) = (fixture.agent, fixture.driver, fixture.keying)
        let (hung, hungGeneration) = try await fixture.startWithAHeldChange()
        let stop = Task { try await agent.stop() }
        // A hang guard, not a timing bound: the call stays held until the stop has ended.
        let stoppedWhileHeld = await eventually(timeout: .seconds(60)) { await agent.state == .stopped }
        #expect(stoppedWhileHeld, "the stop waited for the hung driver call")
        #expect(await driver.mode == .operational(.permit))
        #expect(await keying.stopped)
        let gaveUp = fixture.gaveUpEntries
        #expect(gaveUp.count == 1, "\(fixture.journal.entries.map(\.message))")
        #expect(gaveUp.first?.fields["IPSECSVC_GENERATION"] == "\(hungGeneration)")

        // A call that fails at last (a link the stop closed) is not journaled as filters left in force.
        if callFailsAtLast { await driver.setFailNextApply(DriverError(.failed, "the link ended")) }
        await driver.releaseHeldApply()
        await hung.value
        try await stop.value
        #expect(!fixture.journal.entries.contains { $0.message.contains("could not apply the effective policy") })
        #expect(await keying.appliedAfterStop == [], "a stopped service's keying took a policy")
        #expect(!(await keying.applied.contains(hungGeneration)))
        let after = await fixture.driverEventsAfterPermit()
        #expect(!after.contains { if case .operationalMode = $0 { true } else { false } }, "\(after)")
        #expect(await driver.mode == .operational(.permit))
    }

    /// `stopDuringStart()` while the start's own hand-over is held in the driver: the stop waits for it (its
    /// table reaches the driver, and keying, before the permit mode and keying's stop), and the start then
    /// ends without entering secure mode, so the driver stays in permit mode.
    @Test(.timeLimit(.minutes(2))) func aStartHeldInTheDriverEndsBeforeThePermitModeOfItsStop() async throws {
        let fixture = HandOverFixture(waitAtStop: .seconds(90))  // longer than the test: it releases the call
        defer { fixture.directory.remove() }
        let (agent, driver, keying) = (fixture.agent, fixture.driver, fixture.keying)
        await driver.holdNextApply()
        let start = Task { try await agent.start() }
        let startGeneration = await driver.heldApply()
        let stop = Task { await agent.stopDuringStart() }
        // The stop waits for the start's hand-over: no permit mode yet (else the start would follow it).
        try await Task.sleep(for: .milliseconds(100))
        #expect(!(await driver.events.contains(.operationalMode(.permit))))
        await driver.releaseHeldApply()
        await stop.value
        await #expect(throws: CancellationError.self) { try await start.value }

        let events = await driver.events
        let permit = try #require(events.lastIndex(of: .operationalMode(.permit)), "\(events)")
        let applied = events.firstIndex { if case .applied(startGeneration, _) = $0 { true } else { false } }
        #expect(applied.map { $0 < permit } == true, "\(events)")
        #expect(await fixture.driverEventsAfterPermit() == [], "\(events)")
        #expect(!events.contains(.operationalMode(.secure)), "\(events)")
        #expect(await keying.appliedAfterStop == [])
        #expect(await driver.mode == .operational(.permit))
    }

    /// SIGTERM while the start's hand-over hangs in the driver: the start is cancelled (as
    /// `cancelWhenGracefulShutdown` cancels it) and returns at once instead of waiting for the driver
    /// call; `stopDuringStart()` waits its bound for that call, journals that it gave up, and puts the
    /// driver in permit mode; when the call returns at last, keying gets nothing and no mode follows.
    @Test(.timeLimit(.minutes(2))) func aCancelledStartDoesNotWaitForItsHungHandOver() async throws {
        let fixture = HandOverFixture(waitAtStop: .milliseconds(200))
        defer { fixture.directory.remove() }
        let (agent, driver, keying) = (fixture.agent, fixture.driver, fixture.keying)
        await driver.holdNextApply()
        let start = Task { try await agent.start() }
        let startGeneration = await driver.heldApply()
        let ended = Mutex(false)
        let cancelled = Task {
            defer { ended.withLock { $0 = true } }
            try await start.value
        }
        start.cancel()
        // A hang guard, not a timing bound: the call stays held until the start has ended.
        let endedWhileHeld = await eventually(timeout: .seconds(60)) { ended.withLock { $0 } }
        #expect(endedWhileHeld, "the cancelled start waited for its hung driver call")
        guard endedWhileHeld else {
            await driver.releaseHeldApply()
            _ = try? await cancelled.value
            await agent.stopDuringStart()
            return
        }
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        await agent.stopDuringStart()
        #expect(await driver.mode == .operational(.permit))
        #expect(await keying.stopped)
        #expect(fixture.gaveUpEntries.first?.fields["IPSECSVC_GENERATION"] == "\(startGeneration)")

        await driver.releaseHeldApply()
        #expect(await eventually { await driver.appliedGenerations.contains(startGeneration) })
        #expect(await keying.appliedAfterStop == [])
        let after = await fixture.driverEventsAfterPermit()
        #expect(!after.contains { if case .operationalMode = $0 { true } else { false } }, "\(after)")
        #expect(await driver.mode == .operational(.permit))
    }
}

extension HandOverFixture {
    /// What the driver was told after its last permit mode (the stop's).
    func driverEventsAfterPermit() async -> [InMemoryDriver.Event] {
        let events = await driver.events
        guard let permit = events.lastIndex(of: .operationalMode(.permit)) else { return events }
        return Array(events[(permit + 1)...])
    }

    var gaveUpEntries: [JournalEntry] {
        journal.entries.filter { $0.message.contains("without waiting any longer for the hand-over") }
    }

    /// Starts the service, then makes a change whose hand-over is held in the driver: the change's
    /// task and the held generation.
    func startWithAHeldChange() async throws -> (change: Task<Void, Never>, generation: UInt64) {
        try await agent.start()
        await driver.holdNextApply()
        await engine.dynamic.replace(PolicyHandOverOrderTests.dynamicPolicy(blocking: 1))
        let agent = agent
        let change = Task { await agent.policyChanged() }
        return (change, await driver.heldApply())
    }
}
