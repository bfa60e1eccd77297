import Driver
import IPsecTestKit
import PolicyModel
import Providers
import ServiceHost
import Testing

/// The agent hands policies to the driver and keying one at a time, each the engine's newest when its
/// turn comes: a change, a refresh and a netsh transaction that overlap never leave the driver with an
/// older table than the engine's (DESIGN.md §1, "One hand-over at a time").
@Suite struct PolicyHandOverOrderTests {
    /// A dynamic policy that blocks 198.18.0.`last`.
    static func dynamicPolicy(blocking last: UInt8) -> DynamicPolicy {
        let rule = DynamicRule(
            id: IPsecGUID(high: 0x4e47_4552, low: UInt64(last)),
            filter: Filter(id: .zero, source: .me, destination: .host(IPv4Address(198, 18, 0, last))),
            mainModePolicy: "MM",
            actionInbound: .block,
            actionOutbound: .block
        )
        return DynamicPolicy(mainModePolicies: [DynamicMainModePolicy(name: "MM")], rules: [rule])
    }

    /// The older hand-over is held inside the driver while a newer policy is made and handed over: the
    /// driver and keying end with the newest generation, and take the generations in increasing order.
    @Test(.timeLimit(.minutes(2)), arguments: [false, true])
    func anOlderHandOverNeverReachesTheDriverLast(newerIsRefresh: Bool) async throws {
        let fixture = HandOverFixture()
        defer { fixture.directory.remove() }
        let (agent, driver, keying, engine) = (fixture.agent, fixture.driver, fixture.keying, fixture.engine)
        try await agent.start()
        let appliedAtStart = await driver.appliedGenerations.count
        // The agent's hand-over lock (private: found by its name), to see the newer call wait its turn.
        let applies = try #require(
            Mirror(reflecting: agent).children.first { $0.label == "applies" }?.value as? TransactionLock,
            "PolicyAgent has no TransactionLock named applies"
        )

        await driver.holdNextApply()
        await engine.dynamic.replace(Self.dynamicPolicy(blocking: 1))
        let older = Task { await agent.policyChanged() }
        let olderGeneration = await driver.heldApply()
        await engine.dynamic.replace(Self.dynamicPolicy(blocking: 2))
        let newer = Task {
            if newerIsRefresh { await agent.refresh() } else { await agent.policyChanged() }
        }
        // An agent that lets hand-overs interleave delivers the newer table now, past the held one (so
        // the older arrives last); one that keeps them in turn makes it wait for the lock. Whichever comes
        // first, the held apply is released only then (the bound is a hang guard).
        let arrived = await eventually(timeout: .seconds(120)) {
            if await driver.appliedGenerations.count > appliedAtStart { return true }
            return await applies.waiting > 0
        }
        #expect(arrived, "the newer hand-over neither reached the driver nor waited for the lock")
        let overtaken = await driver.appliedGenerations.count > appliedAtStart
        #expect(!overtaken, "a newer table reached the driver while an older one was still being handed over")
        await driver.releaseHeldApply()
        await older.value
        await newer.value

        let newest = await engine.report().policy.generation
        #expect(newest > olderGeneration)
        let applied = await driver.appliedGenerations
        #expect(await driver.policy.generation == newest, "driver took \(applied)")
        #expect(applied == applied.sorted(), "driver took \(applied)")
        let keyed = await keying.applied
        #expect(keyed.last == newest, "keying took \(keyed)")
        #expect(keyed == keyed.sorted(), "keying took \(keyed)")
        try await agent.stop()
    }

    /// Requests made while a hand-over runs are taken together by the next one: the driver gets the
    /// newest policy once, not once per request.
    @Test(.timeLimit(.minutes(2))) func requestsMadeDuringAHandOverAreCoalesced() async throws {
        let fixture = HandOverFixture()
        defer { fixture.directory.remove() }
        let (agent, driver, engine) = (fixture.agent, fixture.driver, fixture.engine)
        try await agent.start()
        await driver.holdNextApply()
        await engine.dynamic.replace(Self.dynamicPolicy(blocking: 1))
        let first = Task { await agent.policyChanged() }
        _ = await driver.heldApply()
        await engine.dynamic.replace(Self.dynamicPolicy(blocking: 2))
        let waiting = (0..<5).map { _ in Task { await agent.policyChanged() } }
        await driver.releaseHeldApply()
        await first.value
        for request in waiting { await request.value }
        let newest = await engine.report().policy.generation
        let applied = await driver.appliedGenerations
        #expect(applied.last == newest, "\(applied)")
        #expect(applied.filter { $0 == newest }.count == 1, "the newest policy was applied more than once: \(applied)")
        try await agent.stop()
    }

    /// A change the engine signals while the service starts (the agent not yet running, so
    /// ``PolicyAgent/policyChanged()`` does nothing) is handed over when the start ends, not left until
    /// the next change: the engine signals a change once.
    @Test(.timeLimit(.minutes(2))) func aChangeSignalledDuringTheStartIsHandedOverWhenItEnds() async throws {
        let fixture = HandOverFixture()
        defer { fixture.directory.remove() }
        let (agent, driver, keying, engine) = (fixture.agent, fixture.driver, fixture.keying, fixture.engine)
        await driver.holdNextApply()
        let start = Task { try await agent.start() }
        let atStart = await driver.heldApply()
        await engine.dynamic.replace(Self.dynamicPolicy(blocking: 3))
        await agent.policyChanged()
        await driver.releaseHeldApply()
        try await start.value

        let newest = await engine.report().policy.generation
        #expect(newest > atStart)
        let applied = await driver.appliedGenerations
        #expect(await driver.policy.generation == newest, "driver took \(applied)")
        let keyed = await keying.applied
        #expect(keyed.last == newest, "keying took \(keyed)")
        try await agent.stop()
    }
}
