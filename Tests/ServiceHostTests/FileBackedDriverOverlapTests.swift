import DecisionCore
import Driver
import IPsecTestKit
import PolicyModel
import ServiceHost
import Testing

/// Calls of different kinds overlap (the agent's `set config` during a policy hand-over, a stop during
/// a configure): each is recorded in `driver-state` on top of the others, none is lost.
@Suite struct FileBackedDriverOverlapTests {
    @Test(.timeLimit(.minutes(2))) func overlappingCallsAreAllRecorded() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/driver-state"
        let driver = FileBackedDriver(path: path)
        for round in 1...20 {
            let settings = DriverSettings(
                exemptionLevel: round % 4,
                diagnosticsLevel: 0,
                logIntervalSeconds: 600 + round
            )
            async let applied: Void = driver.apply(EffectivePolicy(generation: UInt64(round)))
            async let configured: Void = driver.configure(settings)
            async let moved: Void = driver.enterOperationalMode(round.isMultiple(of: 2) ? .secure : .block)
            _ = try await (applied, configured, moved)
            for record in [await driver.current, FileBackedDriver.read(path)] {
                #expect(record?.tableGeneration == UInt64(round), "round \(round): \(String(describing: record))")
                #expect(record?.settings == settings, "round \(round)")
                #expect(record?.mode == .operational(round.isMultiple(of: 2) ? .secure : .block), "round \(round)")
            }
        }
    }
}
