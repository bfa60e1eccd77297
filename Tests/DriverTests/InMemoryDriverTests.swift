import DecisionCore
import Driver
import IPsecTestKit
import PolicyModel
import Testing

@Suite struct InMemoryDriverTests {
    @Test func recordsModeTransitionsInOrder() async throws {
        let driver = InMemoryDriver()
        try await driver.enterStartupMode(.stateful, exemptions: [])
        try await driver.enterOperationalMode(.secure)
        try await driver.enterOperationalMode(.permit)
        #expect(
            await driver.events == [.startupMode(.stateful, []), .operationalMode(.secure), .operationalMode(.permit)]
        )
        #expect(await driver.status().mode == .operational(.permit))
    }
}
