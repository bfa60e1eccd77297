import DecisionCore
import Driver
import IPsecTestKit
import PolicyModel
import Providers
import ServiceHost
import Testing

@Suite struct StateMachineTests {
    @Test func normalLifecycle() throws {
        var machine = ServiceStateMachine()
        #expect(machine.state == .stopped)
        #expect(try machine.handle(.start, startType: .manual) == .startPending)
        #expect(try machine.handle(.started, startType: .manual) == .running)
        #expect(try machine.handle(.stop, startType: .manual) == .stopPending)
        #expect(try machine.handle(.stopped, startType: .manual) == .stopped)
    }

    @Test func startFailureReturnsToStopped() throws {
        var machine = ServiceStateMachine()
        try machine.handle(.start, startType: .automatic)
        #expect(try machine.handle(.startFailed, startType: .automatic) == .stopped)
    }

    @Test func refusedControls() throws {
        var machine = ServiceStateMachine()
        #expect(throws: WindowsError.serviceDisabled) { try machine.handle(.start, startType: .disabled) }
        #expect(machine.state == .stopped)
        #expect(throws: WindowsError.notActive) { try machine.handle(.stop, startType: .automatic) }
        try machine.handle(.start, startType: .automatic)
        #expect(throws: WindowsError.alreadyRunning) { try machine.handle(.start, startType: .automatic) }
        #expect(throws: WindowsError.cannotAcceptControl) { try machine.handle(.stop, startType: .automatic) }
        try machine.handle(.started, startType: .automatic)
        #expect(throws: WindowsError.alreadyRunning) { try machine.handle(.start, startType: .automatic) }
        try machine.handle(.stop, startType: .automatic)
        #expect(throws: WindowsError.cannotAcceptControl) { try machine.handle(.stop, startType: .automatic) }
        #expect(machine.state == .stopPending)
        #expect(WindowsError.serviceDisabled.code == 1058)
        #expect(WindowsError.serviceDisabled.message.hasPrefix("The service cannot be started"))
    }
}

@Suite struct BootSequenceTests {
    static let exemption = BootExemption(
        ipProtocol: IPProtocol.tcp,
        sourcePort: 0,
        destinationPort: 3389,
        direction: .inbound
    )

    @Test(arguments: [
        (StartupType.disabled, StartupMode?.some(.block), true, StartupMode.permit),
        (.manual, .some(.block), true, .permit),
        (.manual, nil, true, .permit),
        (.automatic, nil, false, .permit),
        (.automatic, nil, true, .stateful),
        (.automatic, .some(.block), false, .block),
        (.automatic, .some(.permit), true, .permit),
        (.automatic, .some(.stateful), false, .stateful),
    ])
    func bootModeThroughTheDriver(
        startType: StartupType,
        bootMode: StartupMode?,
        policyAssigned: Bool,
        expected: StartupMode
    ) async throws {
        var settings = DynamicSettings()
        settings.bootMode = bootMode
        settings.bootExemptions = [Self.exemption]
        let driver = InMemoryDriver()
        let journal = RecordingJournal()
        try await BootSequence().run(
            startType: startType,
            settings: settings,
            policyAssigned: policyAssigned,
            driver: driver,
            journal: journal
        )
        let expectedExemptions = expected == .permit ? [] : [Self.exemption] + DynamicSettings.dhcpExemptions
        #expect(await driver.mode == .startup(expected))
        #expect(await driver.events.last == .startupMode(expected, expectedExemptions))
        #expect(journal.entries.map(\.kind) == [.bootModeApplied])
    }

    @Test func fileBackedDriverIsSeenByAnotherInstance() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/driver-state"
        let first = FileBackedDriver(path: path)
        try await first.enterStartupMode(.block, exemptions: DynamicSettings.dhcpExemptions)
        let second = FileBackedDriver(path: path)
        #expect(await second.status().mode == .startup(.block))
        try await second.enterOperationalMode(.secure)
        #expect(FileBackedDriver.read(path)?.mode == .operational(.secure))
        #expect(FileBackedDriver.read(path)?.history.map(\.event).last == "secure")
    }
}

@Suite struct FileBackedDriverTests {
    @Test func wrapsAnInnerDriverAndRecordsItsTransitions() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let inner = InMemoryDriver()
        let driver = FileBackedDriver(path: directory.path + "/driver-state", inner: inner)
        try await driver.enterOperationalMode(.secure)
        #expect(await inner.mode == .operational(.secure))
        #expect(FileBackedDriver.read(directory.path + "/driver-state")?.mode == .operational(.secure))

        // A failing inner driver: nothing is recorded and the error reaches the caller.
        await inner.setFailNextApply(PolicyAgentTests.Broken())
        await #expect(throws: PolicyAgentTests.Broken.self) { try await driver.apply(EffectivePolicy(generation: 9)) }
        #expect(FileBackedDriver.read(directory.path + "/driver-state")?.tableGeneration == 0)
    }

    @Test func aLostRecordDoesNotFailTheInnerDriversTransition() async throws {
        let inner = InMemoryDriver()
        let driver = FileBackedDriver(path: "/proc/ipsecsvc-cannot-write/driver-state", inner: inner)
        try await driver.enterOperationalMode(.permit)
        #expect(await inner.mode == .operational(.permit))
        let alone = FileBackedDriver(path: "/proc/ipsecsvc-cannot-write/driver-state")
        await #expect(throws: (any Error).self) { try await alone.enterOperationalMode(.permit) }
    }
}

@Suite struct PolicyAgentTests {
    struct Broken: Error, CustomStringConvertible {
        var description: String { "persistent store is corrupt" }
    }

    /// An agent with the in-memory driver and the real engine on `directory` (empty stores unless the
    /// test writes some first).
    func makeAgent(
        in directory: TemporaryDirectory,
        startType: StartupType = .automatic
    ) -> (PolicyAgent, InMemoryDriver, RecordingJournal) {
        let driver = InMemoryDriver()
        let journal = RecordingJournal()
        let agent = PolicyAgent(
            driver: driver,
            engine: TestEngine.make(in: directory),
            journal: journal,
            startType: startType,
            settings: DynamicSettings()
        )
        return (agent, driver, journal)
    }

    /// Fail-closed: one table with every source, then secure mode — never a table of the persistent
    /// policy alone in secure mode.
    @Test func startAppliesTheWholePolicyOnceThenSecureAndStopPermits() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (agent, driver, journal) = makeAgent(in: directory)
        try await agent.start()
        #expect(await agent.state == .running)
        let events = await driver.events
        #expect(
            events == [.configured(DriverSettings()), .applied(generation: 0, filters: 0), .operationalMode(.secure)]
        )
        let report = await agent.status(pid: 42)
        #expect(report.state == .running)
        #expect(report.driverMode == "secure")
        #expect(report.summary.contains("no policy assigned"))

        try await agent.stop()
        #expect(await agent.state == .stopped)
        #expect(await driver.mode == .operational(.permit))
        #expect(
            journal.entries.map(\.kind) == [.driverModeChanged, .serviceStarted, .driverModeChanged, .serviceStopped]
        )
    }

    @Test func persistentFailureEntersBlockMode() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        TestEngine.breakPersistentStore(in: directory)
        let (agent, driver, journal) = makeAgent(in: directory)
        try await agent.start()
        #expect(await driver.mode == .operational(.block))
        let report = await agent.status(pid: nil)
        #expect(report.persistentPolicyFailed)
        let failure = try #require(journal.entries.first { $0.kind == .persistentPolicyFailed })
        #expect(failure.priority == .error)
        #expect(failure.message.contains("persistent.xml"))
        #expect(failure.fields["IPSECSVC_SOURCE"] == "persistent")
        #expect(
            journal.entries.contains { $0.kind == .driverModeChanged && $0.fields["IPSECSVC_DRIVER_MODE"] == "block" }
        )
    }

    @Test func disabledServiceRefusesToStart() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (agent, driver, _) = makeAgent(in: directory, startType: .disabled)
        await #expect(throws: WindowsError.serviceDisabled) { try await agent.start() }
        #expect(await agent.state == .stopped)
        #expect(await driver.events.isEmpty)
    }

    @Test func stopWhenStoppedIsRefused() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (agent, _, _) = makeAgent(in: directory)
        await #expect(throws: WindowsError.notActive) { try await agent.stop() }
    }

    @Test func sourcesAreJournaledWithFields() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try TestEngine.assignExample("Secure Server (Require Security)", in: directory)
        let (agent, _, journal) = makeAgent(in: directory)
        try await agent.start()
        let applied = try #require(journal.entries.first { $0.kind == .policyApplied })
        #expect(applied.fields["IPSECSVC_SOURCE"] == "local")
        #expect(applied.fields["IPSECSVC_POLICY"] == "Secure Server (Require Security)")
        #expect(await agent.summary().contains("local: Secure Server (Require Security)"))
    }

    @Test func messageIDsAreStableAndDistinct() {
        let ids = JournalEventKind.allCases.map(\.messageID)
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.count == 32 && $0.allSatisfy(\.isHexDigit) })
        #expect(JournalEventKind.accessRefused.messageID == "540e0118f1d54a608fb55d33a4cfc578")
    }
}
