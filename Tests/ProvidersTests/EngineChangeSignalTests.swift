import IPsecTestKit
import PolicyModel
import Providers
import Testing

/// The engine's change stream tells the host about every change of the effective policy, whichever merge
/// saw it first.
@Suite struct EngineChangeSignalTests {
    /// A provider updates its state and then signals (the directory's poll does); a read that merges
    /// in between (`policy show --effective`, `explain`) sees the new policy first. The change is still
    /// signalled. Before, the merge the provider's signal ran compared with what the read had already
    /// merged, found nothing new and stayed silent: the agent never applied the change, and the driver
    /// kept the old table while `policy show` showed the new one (seen once in LiveDirectoryTests).
    @Test(.timeLimit(.minutes(3))) func aChangeThatAReadMergedFirstIsStillSignalled() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let engine = TestEngine.make(in: dir)
        let plugin = SignallingProvider(name: "plugin:cmdb")
        try await engine.register(plugin)
        _ = try await engine.startPersistent()
        #expect(await engine.effectivePolicy().filters.isEmpty)
        try await TestEngine.running(engine) {
            let changes = engine.changes()
            plugin.set(.policy(SourcePolicy.assigned(in: Fixtures.simple("CMDB", space: 0x55), location: nil)!))
            // The read merges the new state before the provider's signal is forwarded.
            #expect(await engine.report().policy.filters.map(\.provenance.policyName) == ["CMDB"])
            plugin.signal()
            // A hang guard, not a timing bound: without the signal the host would wait forever.
            let signalled = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    var iterator = changes.makeAsyncIterator()
                    return await iterator.next() != nil
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(60))
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            #expect(signalled, "the change was never signalled: the host would keep the old policy")
            #expect(await engine.effectivePolicy().filters.map(\.provenance.policyName) == ["CMDB"])
        }
    }
}
