extension DriverNetwork {
    /// Runs `body` in a fresh pair of namespaces and tears them down afterwards, whether `body`
    /// returns or throws (an `async` teardown cannot go in a `defer`).
    static func withNetwork(_ body: (DriverNetwork) async throws -> Void) async throws {
        let net = try await DriverNetwork()
        do {
            try await body(net)
        } catch {
            await net.teardown()
            throw error
        }
        await net.teardown()
    }
}
