/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
///
/// The one way tests wait for something that happens elsewhere (a process, a socket, a packet counter):
/// it awaits between polls, so the cooperative pool stays free, and it never replaces a condition with a
/// fixed sleep.
/// - Parameters:
///   - timeout: how long to keep polling.
///   - interval: the pause between two polls.
///   - condition: the check; it must not block the calling thread.
public func eventually(
    timeout: Duration = .seconds(30),
    interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}
