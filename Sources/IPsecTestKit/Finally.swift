/// Runs `body`, then `cleanup` however `body` ended, and returns or rethrows what `body` did: a `defer`
/// that can await (a `defer { Task { … } }` lets the test end, and the next one start, before the
/// cleanup has run).
public func finally<Result>(
    _ body: () async throws -> Result,
    cleanup: () async -> Void
) async rethrows -> Result {
    let result: Result
    do {
        result = try await body()
    } catch {
        await cleanup()
        throw error
    }
    await cleanup()
    return result
}
