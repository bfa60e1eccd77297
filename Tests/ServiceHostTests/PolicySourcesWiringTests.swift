import DecisionCore
import Driver
import Foundation
import IPsecSystem
import IPsecTestKit
import PolicyModel
import Providers
import ServiceHost
import Testing

/// The service host driving the real policy sources engine (Providers) on a temporary state directory.
@Suite struct PolicySourcesWiringTests {
    static func guid(_ n: UInt8) -> IPsecGUID {
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes[0] = 0x5e
        bytes[15] = n
        return IPsecGUID(bytes: bytes)!
    }

    /// One assigned policy that blocks traffic to 198.18.0.1.
    static func store(named name: String) -> PolicyStore {
        let list = FilterList(
            id: guid(10),
            name: "Lab hosts",
            filters: [Filter(id: guid(11), mirrored: true, source: .me, destination: .host(IPv4Address(198, 18, 0, 1)))]
        )
        let action = FilterAction(id: guid(12), name: "Block", action: .block)
        let policy = IPsecPolicy(
            id: guid(1),
            name: name,
            mainMode: MainModeSettings(id: guid(2)),
            rules: [
                Rule(id: guid(3), name: "Block lab", filterListIDs: [list.id], filterActionID: action.id),
                Rule(id: guid(4), name: "", isDefaultResponse: true),
            ]
        )
        return PolicyStore(
            policies: [policy],
            filterLists: [list],
            filterActions: [action],
            assignedPolicyID: policy.id
        )
    }

    func configuration(_ directory: TemporaryDirectory) -> ServiceConfiguration {
        var configuration = ServiceConfiguration()
        configuration.stateDirectory = directory.path
        return configuration
    }

    /// The agent of a service on `configuration` with the policy sources engine and `driver`.
    func agent(
        _ configuration: ServiceConfiguration,
        _ driver: InMemoryDriver,
        _ journal: RecordingJournal
    ) throws
        -> PolicyAgent
    {
        PolicyAgent(
            driver: driver,
            engine: try PolicyEngineFactory.make(configuration, journal: journal),
            journal: journal,
            startType: .automatic,
            settings: DynamicSettings(),
            journalsSources: false
        )
    }

    @Test func localPolicyIsAppliedJournaledAndMakesBootStateful() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let state = StateDirectory(path: directory.path)
        try DurableFile.write(NativeXMLStoreCodec().encode(Self.store(named: "Lab lockdown")), to: state.localStore)
        let configuration = configuration(directory)

        #expect(try await PolicyEngineFactory.anyPolicyAssigned(configuration))
        let boot = BootSequence().decide(startType: .automatic, settings: DynamicSettings(), policyAssigned: true)
        #expect(boot.mode == .stateful)

        let journal = RecordingJournal()
        let driver = InMemoryDriver()
        let agent = try agent(configuration, driver, journal)
        try await agent.start()
        #expect(await driver.mode == .operational(.secure))
        #expect(await driver.policy.filters.count >= 1)
        let applied = journal.entries.filter { $0.kind == .policyApplied }
        #expect(applied.count == 1)
        #expect(applied.first?.fields["IPSECSVC_SOURCE"] == "local")
        #expect(applied.first?.fields["IPSECSVC_POLICY"] == "Lab lockdown")
        let report = await agent.status(pid: nil)
        #expect(report.sources.contains { $0.kind == .local && $0.state == .inEffect })
        #expect(report.summary.contains("Lab lockdown"))
        try await agent.stop()
        #expect(await driver.mode == .operational(.permit))
    }

    /// Computer startup reads only the root start tag of a store that names its assigned policy (the
    /// rest here would not even parse), and reads the sources when no head names one.
    @Test func bootAnswersFromTheStoreHead() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let state = StateDirectory(path: directory.path)
        let head =
            #"<policyStore xmlns="urn:ipsecsvc:policy:1" version="1" assignedPolicy="{00000000-0000-4000-8000-000000000001}">"#
        try DurableFile.write(Array((head + "<not the rest of a store").utf8), to: state.persistentStore)
        #expect(try await PolicyEngineFactory.anyPolicyAssigned(configuration(directory)))

        var unassigned = Self.store(named: "Lab lockdown")
        unassigned.assignedPolicyID = nil
        try DurableFile.write(NativeXMLStoreCodec().encode(unassigned), to: state.persistentStore)
        #expect(try await !PolicyEngineFactory.anyPolicyAssigned(configuration(directory)))
        try DurableFile.write(NativeXMLStoreCodec().encode(Self.store(named: "Lab lockdown")), to: state.localStore)
        #expect(try await PolicyEngineFactory.anyPolicyAssigned(configuration(directory)))
    }

    @Test func brokenPersistentStoreEntersBlockModeOnce() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try DurableFile.write(Array("<not a policy".utf8), to: StateDirectory(path: directory.path).persistentStore)
        let journal = RecordingJournal()
        let driver = InMemoryDriver()
        let agent = try agent(configuration(directory), driver, journal)
        try await agent.start()
        #expect(await driver.mode == .operational(.block))
        #expect(journal.entries.filter { $0.kind == .persistentPolicyFailed }.count == 1)
        #expect(await agent.status(pid: nil).persistentPolicyFailed)
    }

    /// With the service running, explain decides with the driver's own mode, settings and host.
    @Test func explainUsesTheRunningDriversModeAndHost() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try DurableFile.write(Array("<not a policy".utf8), to: StateDirectory(path: directory.path).persistentStore)
        let me = IPv4Address(198, 18, 0, 10)
        let driver = InMemoryDriver(host: HostInfo(addresses: [me]))
        let journal = RecordingJournal()
        let configuration = configuration(directory)
        let agent = try agent(configuration, driver, journal)
        try await agent.start()
        let environment = await ExplainEnvironment.running(agent: agent, configuration: configuration)
        #expect(environment.settings.mode == .operational(.block))
        #expect(environment.host.addresses == [me])
        let explained = await agent.engine.explain(
            PacketQuery(source: IPv4Address(198, 18, 1, 1), destination: me, ipProtocol: 6, destinationPort: 22),
            environment: environment
        )
        #expect(explained.reason == "mode-block" && !explained.accepted)
        #expect(explained.me == [me])
        try await agent.stop()
    }

    @Test func everyPolicyEventHasAJournalKind() {
        let events: [PolicyEvent] = [
            .appliedPersistent(policy: "P", store: nil), .persistentFailed(reason: "r"),
            .appliedDirectory(policy: "D", gpo: "G", linkedThrough: nil), .failedDirectory(reason: "r"),
            .appliedCachedDirectory(policy: "C", reason: nil), .failedCachedDirectory(reason: "r"),
            .appliedLocal(policy: "L", store: nil), .failedLocal(reason: "r"), .noStaticPolicy,
            .persistentPendingRestart(store: "s"), .sourceFailed(name: "plugin:x", reason: "r"),
        ]
        let kinds = events.map { JournalPolicyEventSink.entry(for: $0).kind }
        #expect(
            kinds == [
                .policyApplied, .persistentPolicyFailed, .policyApplied, .policySourceFailed,
                .cachedDirectoryPolicyApplied, .policySourceFailed, .policyApplied, .policySourceFailed,
                .noStaticPolicy, .persistentPendingRestart, .policySourceFailed,
            ]
        )
        #expect(
            JournalPolicyEventSink.entry(for: .appliedCachedDirectory(policy: "C", reason: nil)).fields[
                "IPSECSVC_POLICY"
            ] == "C"
        )
    }
}
