/// Mutual exclusion for async work, first come first served: one transaction at a time holds it across
/// its suspension points (an actor alone would let the next caller in at every `await`).
public actor TransactionLock {
    private var held = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init() {}

    /// How many callers wait for the lock now: for tests, that a call has reached it and waits its turn.
    public var waiting: Int { waiters.count }

    /// Runs `body` once every earlier caller has finished; releases the lock however `body` ends.
    public nonisolated func run<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        await acquire()
        do {
            let result = try await body()
            await release()
            return result
        } catch {
            await release()
            throw error
        }
    }

    private func acquire() async {
        guard held else {
            held = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        // The lock passes straight to the next waiter, so no newcomer can overtake it.
        if waiters.isEmpty {
            held = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
