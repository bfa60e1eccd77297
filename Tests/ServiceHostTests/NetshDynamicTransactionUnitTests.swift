import IPsecTestKit
import Netsh
import PolicyModel
import Providers
import ServiceHost
import Testing

/// The service runs `netsh ipsec dynamic` commands as transactions (``PolicyAgent/runNetshDynamic``):
/// one at a time, all or nothing, on one copy of the dynamic SPD (the dynamic policy source's).
@Suite struct NetshDynamicTransactionUnitTests {
    func command(_ name: String, _ arguments: [String]) -> NetshDynamicCommand {
        NetshDynamicCommand(
            name: name,
            arguments: arguments.map { word in
                let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                return parts.count == 2 ? NetshToken(tag: parts[0], value: parts[1]) : NetshToken(value: word)
            }
        )
    }

    func agent(_ directory: TemporaryDirectory) -> PolicyAgent {
        PolicyAgent(
            driver: InMemoryDriver(),
            engine: TestEngine.make(in: directory),
            journal: RecordingJournal(),
            startType: .manual,
            settings: DynamicSettings()
        )
    }

    @Test func concurrentCommandsAreSerialisedAndNoneIsLost() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let agent = agent(directory)
        let store = ServiceStateStore(directory: directory.path)
        _ = try await agent.runNetshDynamic([command("add mmpolicy", ["name=MM"])], dryRun: false, store: store)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 1...40 {
                group.addTask {
                    _ = try await agent.runNetshDynamic(
                        [
                            command(
                                "add rule",
                                [
                                    "srcaddr=198.18.9.\(index)", "dstaddr=any", "mmpolicy=MM", "actioninbound=block",
                                    "actionoutbound=block",
                                ]
                            )
                        ],
                        dryRun: false,
                        store: store
                    )
                }
            }
            try await group.waitForAll()
        }
        let rules = await agent.engine.dynamic.policy.rules
        #expect(rules.count == 40)
        #expect(Set(rules.map(\.filter.source)).count == 40)
    }

    @Test func aFailingCommandLeavesEverythingAsItWas() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let agent = agent(directory)
        let store = ServiceStateStore(directory: directory.path)
        await #expect(
            throws: NetshDynamicFailure(index: 2, message: "Main mode policy with name \"Nope\" does not exist.")
        ) {
            _ = try await agent.runNetshDynamic(
                [
                    command("add mmpolicy", ["name=MM"]),
                    command("set config", ["property=ipsecdiagnostics", "value=7"]),
                    command(
                        "add rule",
                        ["srcaddr=me", "dstaddr=any", "mmpolicy=Nope", "actioninbound=block", "actionoutbound=block"]
                    ),
                ],
                dryRun: false,
                store: store
            )
        }
        #expect(await agent.engine.dynamic.policy == DynamicPolicy())
        #expect(try store.dynamicSettings() == DynamicSettings())
        // A dry run checks and keeps nothing.
        let outputs = try await agent.runNetshDynamic(
            [command("add mmpolicy", ["name=MM"]), command("show mmpolicy", ["all"])],
            dryRun: true,
            store: store
        )
        #expect(outputs[1].contains("Policy Name             : MM"))
        #expect(await agent.engine.dynamic.policy == DynamicPolicy())
    }
}
