import DecisionCore
import Driver
import Foundation
import IPsecSystem
import IPsecTestKit
import PolicyModel
import Synchronization
import Testing

@testable import ServiceHost

#if canImport(Glibc)
import Glibc
#endif

/// The agent ↔ driver link without root: the table's wire form, the saved state, and a real driver
/// socket served by a ``DriverHost`` whose netfilter driver installs nothing (startup modes and tables
/// only: no queue is bound, no rule written).
@Suite struct PolicyWireTests {
    /// Every kind of address, descriptions, dynamic rules with two actions, several contexts.
    static var varied: EffectivePolicy {
        let addresses: [FilterAddress] = [
            .me, .any, .host(IPv4Address(198, 18, 1, 1)),
            .subnet(IPv4Address(198, 18, 2, 0), mask: .mask(prefixLength: 24)),
            .dnsName("server.example.com", address: IPv4Address(198, 18, 3, 3)), .server(.dns), .server(.wins),
            .server(.dhcp), .server(.gateway),
        ]
        var filters: [EffectiveFilter] = []
        for (index, source) in addresses.enumerated() {
            var filter = DecisionFixture.filter(
                index + 1,
                source,
                addresses[(index + 3) % addresses.count],
                proto: 6,
                dport: UInt16(index)
            )
            filter.description = index % 2 == 0 ? "" : "filter \(index) — ünïcode"
            filter.mirrored = index % 3 != 0
            var effective = DecisionFixture.effective(
                filter,
                DecisionFixture.action(index % 2 == 0 ? .block : .permit),
                outbound: index == 4 ? DecisionFixture.action(.negotiate, inpass: true) : nil
            )
            effective.interfaceType = index % 3 == 0 ? .lan : .all
            effective.tunnelEndpoint = index == 5 ? IPv4Address(198, 18, 9, 9) : nil
            effective.provenance.ruleName = "rule \(index / 3)"
            filters.append(effective)
        }
        return EffectivePolicy(generation: 42, filters: filters)
    }

    /// A rule per filter (as many provenances as filters), every provenance field set.
    static var ownRules: EffectivePolicy {
        var policy = varied
        for index in policy.filters.indices {
            policy.filters[index].provenance = Provenance(
                kind: SourceKind.allCases[index % SourceKind.allCases.count],
                source: "directory",
                store: index % 2 == 0 ? nil : "/var/lib/ipsecsvc/store \(index)",
                policyName: "Policy",
                policyID: index % 3 == 0 ? nil : DecisionFixture.guid(100 + index),
                ruleName: "rule \(index)",
                ruleID: DecisionFixture.guid(200 + index),
                filterListName: "list — \(index)",
                filterListID: index % 2 == 0 ? DecisionFixture.guid(300 + index) : nil,
                filterActionName: "action",
                gpo: index % 2 == 0 ? "Default Domain Policy" : nil,
                linkedThrough: index % 4 == 1 ? "OU=Servers,DC=example,DC=com" : nil
            )
        }
        return policy
    }

    /// CPU-heavy in a debug build: off the cooperative pool.
    @Test func roundTripsEveryField() async throws {
        let mismatches = try await offThePool {
            try [Self.varied, Self.ownRules, .empty, SyntheticPolicy.make(count: 5000, seed: 7, generation: 9)].filter {
                policy in
                try PolicyWire.decode(PolicyWire.encode(policy)) != policy
            }
            .map(\.filters.count)
        }
        #expect(mismatches.isEmpty, "policies of \(mismatches) filters did not round-trip")
    }

    /// Provenances are written field by field (``WireWriter/provenance(_:)``): a field added to
    /// ``Provenance`` must be added there too, or it would be lost on the way to the driver.
    @Test func provenanceRecordsEveryField() {
        let fields = Mirror(reflecting: Self.ownRules.filters[1].provenance).children.compactMap(\.label)
        #expect(
            fields == [
                "kind", "source", "store", "policyName", "policyID", "ruleName", "ruleID", "filterListName",
                "filterListID", "filterActionName", "gpo", "linkedThrough",
            ],
            "Provenance changed: write and read the new field in PolicyWire (WireWriter/WireReader.provenance)"
        )
    }

    /// The encoder compares contexts field by field (``PolicyWire/sameContext(_:_:)``) and the decoder
    /// builds filters from the same fields: a field added to ``EffectiveFilter`` must be added there too.
    @Test func contextFieldsAreKnown() {
        // The context lives in a shared box (`shared.context`): list the box's fields in its place.
        let filter = Mirror(reflecting: Self.varied.filters[0])
        let fields = filter.children.flatMap { child -> [String] in
            guard child.label == "shared" else { return [child.label ?? ""] }
            let context = Mirror(reflecting: child.value).children.first { $0.label == "context" }
            return context.map { Mirror(reflecting: $0.value).children.compactMap(\.label) } ?? ["shared"]
        }
        #expect(
            fields == [
                "filter", "inboundAction", "outboundAction", "interfaceType", "tunnelEndpoint", "provenance",
                "negotiation",
            ],
            "EffectiveFilter changed: compare and fill the new field in PolicyWire.sameContext / decode"
        )
    }

    /// A table of version 1 (the provenance inside each context), as a driver saved it before version 2,
    /// still loads.
    @Test func readsVersionOne() throws {
        let effective = Self.ownRules.filters[3]
        var context = effective
        context.filter = PolicyWire.placeholder
        var writer = WireWriter(capacity: 1024)
        writer.bytes(Array("IPSP".utf8))
        writer.u16(1)
        writer.blob(Array(#"{"generation":5,"filters":[]}"#.utf8))
        writer.u32(1)
        writer.blob(Array(try JSONEncoder().encode(context)))
        writer.u32(1)
        writer.u32(0)
        writer.bytes(effective.filter.id.bytes)
        writer.u8(effective.filter.mirrored ? 1 : 0)
        writer.address(effective.filter.source)
        writer.address(effective.filter.destination)
        writer.u8(effective.filter.ipProtocol)
        writer.u16(effective.filter.sourcePort)
        writer.u16(effective.filter.destinationPort)
        writer.string(effective.filter.description)
        #expect(try PolicyWire.decode(writer.buffer) == EffectivePolicy(generation: 5, filters: [effective]))
        var future = writer.buffer
        future[4] = 3
        #expect(throws: PolicyWireError.self) { try PolicyWire.decode(future) }
    }

    @Test func sharedContextsAreWrittenOnce() async throws {
        let count = try await offThePool { try PolicyWire.encode(SyntheticPolicy.make(count: 10_000, seed: 3)).count }
        // 10,000 filters of 100 rules × 3 actions: a few hundred contexts, ~40 bytes per filter.
        #expect(count < 10_000 * 60 + 300 * 1000, "\(count) bytes")
    }

    @Test func badInputIsRefusedWithItsOffset() throws {
        let bytes = try PolicyWire.encode(Self.varied)
        #expect(throws: PolicyWireError.self) { try PolicyWire.decode(Array("IPSX".utf8) + bytes.dropFirst(4)) }
        // Every truncation fails cleanly (never traps), naming where.
        for length in stride(from: 0, to: bytes.count, by: 7) {
            do {
                _ = try PolicyWire.decode(Array(bytes[0..<length]))
                Issue.record("a table cut at \(length) bytes decoded")
            } catch {
                #expect(error.offset <= length)
            }
        }
        // A filter count far beyond the bytes is refused before anything is allocated for it.
        var lying = PolicyWireTests.headerOnly()
        lying += [0xFF, 0xFF, 0xFF, 0x7F]
        #expect(throws: PolicyWireError.self) { try PolicyWire.decode(lying) }
        // So is a provenance count beyond the bytes (version 2).
        var lyingProvenances = PolicyWireTests.headerOnly()
        lyingProvenances[4] = 2
        lyingProvenances += [0xFF, 0xFF, 0xFF, 0x7F]
        #expect(throws: PolicyWireError.self) { try PolicyWire.decode(lyingProvenances) }
        // And a filter naming a provenance that is not there.
        let good = try PolicyWire.encode(EffectivePolicy(generation: 1, filters: [Self.varied.filters[0]]))
        var badReference = good
        let record = good.count - 36 - 4
        badReference[record] = 9
        #expect(throws: PolicyWireError.self) { try PolicyWire.decode(badReference) }
    }

    /// A valid start (no contexts) without filters yet.
    static func headerOnly() -> [UInt8] {
        var writer = WireWriter(capacity: 64)
        writer.bytes(Array("IPSP".utf8))
        writer.u16(1)
        writer.blob(Array(#"{"generation":1,"filters":[]}"#.utf8))
        writer.u32(0)
        return writer.buffer
    }
}

@Suite struct DriverRuntimeStoreTests {
    @Test func savesAndLoadsStateAndTable() throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-runtime")
        defer { directory.remove() }
        let store = DriverRuntimeStore(path: directory.file("run/driver-table"))
        #expect(try store.load() == nil)
        var record = DriverRuntimeRecord()
        record.mode = .startup(.block)
        record.exemptions = [BootExemption(ipProtocol: 6, sourcePort: 0, destinationPort: 22, direction: .inbound)]
        record.settings = DriverSettings(exemptionLevel: 1, diagnosticsLevel: 2)
        record.stamp = PolicyStamp(agent: "1@2", generation: 3)
        record.epoch = 17
        let table = try PolicyWire.encode(PolicyWireTests.varied)
        try store.save(record, table: table)
        let loaded = try #require(try store.load())
        #expect(loaded.record == record)
        #expect(loaded.table == table)
        _ = directory.write("run/driver-table", "IPSRnot a table")
        #expect(throws: (any Error).self) { try store.load() }
    }
}

@Suite struct DriverLinkTests {
    /// A driver process in this test process: a netfilter driver that installs nothing, its host and
    /// its socket.
    final class HelloCount: Sendable {
        let count = Atomic(0)
    }

    final class LocalDriver: Sendable {
        let host: DriverHost
        let server: DriverLinkServer
        let driver: NetfilterDriver
        /// How many agents said hello.
        let hellos = HelloCount()

        init(socket: String, table: String) async throws {
            driver = NetfilterDriver(
                configuration: NetfilterDriverConfiguration(
                    hostInfo: StaticHostInfoSource(DecisionFixture.host),
                    installsHooks: false
                )
            )
            let store = DriverRuntimeStore(path: table)
            host = DriverHost(
                driver: driver,
                store: store,
                journal: RecordingJournal(),
                info: DriverProcessInfo(pid: CurrentProcess.pid, startedAt: 0, socket: socket, exitsWithService: true)
            )
            if let saved = try store.load() {
                _ = try await host.restore(
                    saved.record,
                    table: saved.table,
                    startedAt: SystemClock.monotonicMicroseconds()
                )
            }
            let host = self.host
            let hellos = self.hellos
            server = try DriverLinkServer(path: socket, journal: RecordingJournal()) { request, tail, _ in
                if case .hello = request { hellos.count.add(1, ordering: .relaxed) }
                return await host.handle(request, tail: tail)
            }
            try server.start()
            // As `ipsecsvc driver --exit-with-service` does: the service's stop ends the process.
            let server = self.server
            Task {
                for await _ in host.exitRequests {
                    await server.broadcast(.exiting)
                    await server.stop()
                    return
                }
            }
        }
    }

    @Test func theAgentDrivesTheDriverOverItsSocketAndHandsItsStateToARestartedOne() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-link")
        defer { directory.remove() }
        let socket = directory.file("driver.sock")
        var local = try await LocalDriver(socket: socket, table: directory.file("driver-table"))
        var mode = stat()
        #expect(stat(socket, &mode) == 0 && mode.st_mode & 0o777 == 0o600, "the driver socket is not 0600")
        #expect(try FileSystem.entries(of: directory.path).filter { $0.hasPrefix(".bind.") }.isEmpty)
        let remote = RemoteDriver(socketPath: socket, launcher: nil, role: "test")
        // The link's background work runs as the `run` process's group runs it; it ends with the shutdown.
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await remote.run() }

            try await remote.configure(DriverSettings(exemptionLevel: 1, diagnosticsLevel: 0, logIntervalSeconds: 600))
            try await remote.apply(PolicyWireTests.varied)
            try await remote.enterStartupMode(.stateful, exemptions: [])
            var status = await remote.status()
            #expect(status.mode == .startup(.stateful))
            #expect(status.tableGeneration == 42)
            #expect(status.filterCount == PolicyWireTests.varied.filters.count)
            #expect(status.process?.pid == CurrentProcess.pid)
            #expect(await remote.decisionState().settings.exemptionLevel == 1)

            // The driver "crashes" (its socket goes away) and a new one starts from its saved state; the
            // agent reconnects by itself (no call asks it to) and hands over what it had sent, then goes on.
            await local.server.stop()
            local = try await LocalDriver(socket: socket, table: directory.file("driver-table"))
            #expect(await local.driver.status().tableGeneration == 42, "the saved table was not restored")
            let restarted = local
            #expect(await eventually(timeout: .seconds(120)) { restarted.hellos.count.load(ordering: .relaxed) == 1 })
            // Said only once the hand-over is done (until then: reconnecting).
            #expect(await eventually(timeout: .seconds(120)) { await remote.status().problem == nil })
            #expect(await local.driver.decisionState().settings.exemptionLevel == 1)
            try await remote.enterStartupMode(.block, exemptions: [])
            status = await remote.status()
            #expect(status.mode == .startup(.block))
            #expect(status.filterCount == PolicyWireTests.varied.filters.count)

            try await remote.shutdown()
            #expect(await local.driver.status().mode == .operational(.permit))
            #expect(!FileSystem.exists(socket), "the driver did not exit after the service's stop")
        }
    }

    /// A status is answered while no driver exists (it does not wait for one, naming the socket); a
    /// change waits for the driver's socket (its unit still starting), also while status queries race it.
    @Test func aStatusDoesNotWaitForTheDriverButAChangeDoes() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-link")
        defer { directory.remove() }
        let socket = directory.file("driver.sock")
        let remote = RemoteDriver(socketPath: socket, launcher: nil, role: "test")
        let status = await remote.status()
        #expect(status.problem?.contains(socket) == true, "\(status)")
        // The driver is made beforehand, on another path, and its socket renamed into place after the
        // race: however long a loaded machine takes to make it, the change's wait for the socket
        // (RemoteDriver.connectTimeout) only spans the race.
        let staging = directory.file("staging.sock")
        let local = try await LocalDriver(socket: staging, table: directory.file("driver-table"))
        defer { Task { await local.server.stop() } }

        let change = Task {
            try await remote.configure(DriverSettings(exemptionLevel: 1, diagnosticsLevel: 0, logIntervalSeconds: 600))
        }
        // At most 20 racing queries and 200 ms of them: on a starved pool (the whole suite at load 30+)
        // 20 queries took longer than the change waits for the socket (RemoteDriver.connectTimeout).
        let raceEnd = ContinuousClock.now + .milliseconds(200)
        for _ in 0..<20 where ContinuousClock.now < raceEnd {
            _ = await remote.status()
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(rename(staging, socket) == 0, "rename: errno \(errno)")
        try await change.value
        #expect(await local.driver.decisionState().settings.exemptionLevel == 1)
        #expect(await remote.status().problem == nil)
    }

    /// Frames of another protocol version or beyond the size limits end the connection; a hello of
    /// another version is refused in words.
    @Test func versionsAndLimitsAreEnforced() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-link")
        defer { directory.remove() }
        let socket = directory.file("driver.sock")
        let local = try await LocalDriver(socket: socket, table: directory.file("driver-table"))
        defer { Task { await local.server.stop() } }

        let client = try DriverLinkClient.connect(socket)
        let refused = try await client.request(
            .hello(LinkHello(version: 99, pid: 1, role: "test")),
            timeout: .seconds(30)
        )
        guard case .failed(let error) = refused else {
            Issue.record("hello of version 99 answered \(refused)")
            return
        }
        #expect(error.message.contains("version 99"))
        client.close()

        for header in [
            Self.header(version: 2, json: 2), Self.header(version: 1, json: UInt32(DriverLink.maxJSONBytes + 1)),
        ] {
            let fd = try UnixSocket.connect(socket)
            defer { close(fd) }
            // Bounded: a driver that kept waiting would fail the check below instead of hanging the test.
            UnixSocket.setTimeouts(fd, seconds: 10)
            try UnixSocket.sendAll(fd, header)
            var byte: UInt8 = 0
            // The driver closes the connection (0 bytes) instead of waiting for the rest.
            #expect(recv(fd, &byte, 1, 0) == 0)
        }
    }

    static func header(version: UInt16, json: UInt32) -> [UInt8] {
        var writer = WireWriter(capacity: 20)
        writer.bytes(Array("IPSD".utf8))
        writer.u16(version)
        writer.u16(1)
        writer.u32(1)
        writer.u32(json)
        writer.u32(0)
        return writer.buffer
    }
}
