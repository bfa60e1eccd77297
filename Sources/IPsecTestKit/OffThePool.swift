import IPsecSystem

/// Runs CPU-heavy test work (property tests, scaling checks, fuzz slices) on a thread of its own and
/// returns what it computed.
///
/// All suites share one cooperative pool as wide as the machine (two threads here). A debug build spends
/// seconds in such work; on the pool it starves every other test's tasks — in-process servers stop
/// answering and waiting tests pass their deadlines. On a thread of its own it competes for the CPU like
/// any thread, and the pool stays free. Assertions belong after the call, on the test's task: the body
/// returns what the test checks (Swift Testing records issues through the task, not the thread).
public func offThePool<T: Sendable>(
    _ name: String = "test-cpu",
    _ body: @escaping @Sendable () throws -> T
) async throws -> T {
    let result: Result<T, any Error> = try await DedicatedThread.run(name: name) {
        Result { try body() }
    }
    return try result.get()
}
