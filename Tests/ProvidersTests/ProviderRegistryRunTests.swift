import IPsecTestKit
import Providers
import Testing

/// The registry forwards each provider's change signals as a child of ``ProviderRegistry/run()``: from
/// the provider's registration until it is unregistered, and never after that call has ended.
@Suite struct ProviderRegistryRunTests {
    @Test(.timeLimit(.minutes(1))) func forwardingsAreChildrenOfRunAndEndWithIt() async throws {
        let registry = ProviderRegistry()
        let first = SignallingProvider(name: "plugin:first")
        let second = SignallingProvider(name: "plugin:second")
        try await registry.register(first)
        var changes = registry.changes.makeAsyncIterator()
        await changes.next()  // the registration itself
        await withDiscardingTaskGroup { group in
            group.addTask { await registry.run() }
            // Registered before and while the registry runs: both forwarded.
            try? await registry.register(second)
            await changes.next()
            first.signal()
            await changes.next()
            second.signal()
            await changes.next()
            // Unregistering ends that provider's forwarding alone.
            await registry.unregister(named: "plugin:first")
            await changes.next()
            #expect(await eventually(timeout: .seconds(30)) { first.openStreams == 0 })
            #expect(second.openStreams == 1)
            second.signal()
            await changes.next()
            group.cancelAll()
        }
        // No forwarding outlives run(): the remaining provider's stream was let go.
        #expect(second.openStreams == 0)
    }
}
