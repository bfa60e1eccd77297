import Foundation
import IPsecTestKit
import PolicyFormats
import PolicyModel
import Providers
import Synchronization
import Testing

/// The directory provider over the ``DirectoryReader`` seam (what the live LDAP reader and the snapshot
/// reader share): polling by the change times of every referenced object, reads that never overlap,
/// the retry schedule, moved computers, and the decision events.
@Suite struct DirectoryReaderProviderTests {
    typealias Computer = SnapshotFixtures.Computer

    struct Rig {
        let dir = TemporaryDirectory()
        let events = RecordingEventSink()
        let reader: ScriptedDirectoryReader

        init(_ entries: [DirectoryEntry]) { reader = ScriptedDirectoryReader(entries) }

        func engine(
            pollingInterval: Duration? = nil,
            reachability: (any DirectoryReachabilityCheck)? = nil
        ) -> SourcesPolicyEngine {
            SourcesPolicyEngine(
                configuration: SourcesConfiguration(
                    state: dir.state,
                    directory: DirectoryConfiguration(
                        snapshotPath: nil,
                        computerDN: nil,
                        pollingInterval: pollingInterval,
                        reachability: reachability
                    ),
                    directoryReader: reader,
                    events: events,
                    runsTimers: false
                )
            )
        }

        var decisions: [DirectoryDecision] {
            events.events.compactMap { event in
                if case .directoryDecision(let decision) = event { return decision }
                return nil
            }
        }
    }

    /// The base snapshot with the Web policy's filter list replaced by the changed variant's (its
    /// content and change time), the policy object itself untouched.
    static func childChanged() throws -> [DirectoryEntry] {
        let changed = try SnapshotFixtures.entries(.changed)
        let list = SnapshotFixtures.policyStore(3).filterLists[0].id
        let dn = "CN=ipsecFilter\(list.braced),CN=IP Security,CN=System,\(SnapshotFixtures.domain)"
        var replacement = try #require(changed.first { DN.normalize($0.dn) == DN.normalize(dn) })
        replacement.attributes.removeAll { $0.name.lowercased() == "whenchanged" }
        replacement.append("whenChanged", .text("20261206120000.0Z"))
        return try SnapshotFixtures.entries(.base).map { DN.normalize($0.dn) == DN.normalize(dn) ? replacement : $0 }
    }

    static func destination(_ engine: SourcesPolicyEngine) async -> FilterAddress? {
        await engine.effectivePolicy().filters.first?.filter.destination
    }

    @Test func aChangedFilterListIsNoticedByThePollThoughThePolicyObjectIsUnchanged() async throws {
        let rig = Rig(try SnapshotFixtures.entries(.base))
        defer { rig.dir.remove() }
        let engine = rig.engine()
        _ = try await engine.startPersistent()
        #expect(await Self.destination(engine) == .host(IPv4Address(198, 18, 3, 1)))
        let directory = try #require(engine.directory)

        // Nothing changed: the poll reads the change times only.
        #expect(await directory.pollPolicy() == false)
        #expect(rig.reader.counts == (reads: 1, objectReads: 0, stampReads: 1))
        #expect(rig.decisions.last?.outcome == .unchanged)

        let entries = try Self.childChanged()
        rig.reader.update { $0.entries = entries }
        #expect(await directory.pollPolicy())
        #expect(rig.reader.counts == (reads: 1, objectReads: 1, stampReads: 2))
        #expect(await Self.destination(engine) == .host(IPv4Address(198, 18, 33, 1)))
        let decision = try #require(rig.decisions.last)
        #expect(decision.outcome == .applied && decision.trigger == .poll)
        #expect(decision.reason.contains("ipsecFilter"), "\(decision.reason)")
        #expect(decision.server == "ldap://dc.test" && decision.gpo == "Web IPsec")
    }

    @Test func readsNeverOverlapAndWaitingRefreshesShareOneRead() async throws {
        let rig = Rig(try SnapshotFixtures.entries(.base))
        defer { rig.dir.remove() }
        let engine = rig.engine()
        _ = try await engine.startPersistent()
        _ = await engine.effectivePolicy()
        let directory = try #require(engine.directory)
        rig.reader.update { $0.held = true }
        // One read runs (held, as a slow DC holds it); the four that arrive meanwhile wait for it and
        // then share one more read. Two seconds let the four arrive on a loaded machine too.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await directory.refresh() }
            _ = await eventually(timeout: .seconds(30)) { rig.reader.holding == 1 }
            for _ in 0..<4 { group.addTask { await directory.refresh() } }
            try? await Task.sleep(for: .seconds(2))
            #expect(rig.reader.holding == 1, "a second read ran beside the first")
            rig.reader.release()
        }
        #expect(rig.reader.counts.reads == 3, "\(rig.reader.counts)")
    }

    /// A stop (the refresh's task cancelled) while a silent DC holds the read on the blocking pool: the
    /// refresh returns at once instead of waiting out the LDAP timeout.
    @Test func aStopDoesNotWaitForAReadThatADCHolds() async throws {
        let rig = Rig(try SnapshotFixtures.entries(.base))
        defer { rig.dir.remove() }
        let engine = rig.engine()
        _ = try await engine.startPersistent()
        let directory = try #require(engine.directory)
        rig.reader.update { $0.held = true }
        let returned = Atomic(false)
        let refresh = Task {
            await directory.refresh()
            returned.store(true, ordering: .relaxed)
        }
        // The held read runs on the process's shared four-thread blocking pool, where other suites' child
        // processes each hold a thread for their life: at load 34 it once had not started after 30 s. A
        // hang guard, as for StoreProviderReadTests' gated read.
        #expect(await eventually(timeout: .seconds(180)) { rig.reader.holding == 1 })
        refresh.cancel()
        let stopped = await eventually(timeout: .seconds(30)) { returned.load(ordering: .relaxed) }
        #expect(stopped, "the cancelled refresh waited for the held read")
        #expect(rig.reader.holding == 1, "the read is still held")
        rig.reader.release()
        await refresh.value
    }

    /// A stop while the `directory_check` runs cancels the check (the command's process is killed), and
    /// the read it cut short is not recorded as a failure of the directory.
    @Test func aStopCancelsARunningReachabilityCheck() async throws {
        let rig = Rig(try SnapshotFixtures.entries(.base))
        defer { rig.dir.remove() }
        let check = HangingCheck()
        let engine = rig.engine(reachability: check)
        _ = try await engine.startPersistent()
        _ = await engine.effectivePolicy()
        let directory = try #require(engine.directory)
        let decisions = rig.decisions.count
        check.hangs.store(true, ordering: .relaxed)
        let refresh = Task { await directory.refresh() }
        #expect(await eventually(timeout: .seconds(30)) { check.started.load(ordering: .relaxed) })
        refresh.cancel()
        let cancelled = await eventually(timeout: .seconds(30)) { check.cancelled.load(ordering: .relaxed) }
        #expect(cancelled, "the check was not cancelled")
        await refresh.value
        // The next read runs after the cancelled one has ended: only its decision is new.
        check.hangs.store(false, ordering: .relaxed)
        await directory.refresh()
        #expect(rig.reader.counts.reads == 2)
        #expect(rig.decisions.count == decisions + 1, "\(rig.decisions)")
        #expect(rig.decisions.last?.outcome == .unchanged)
        #expect(await directory.status().failure == nil)
    }

    /// A reachability check that waits until it is cancelled (or a minute, so that a test of a
    /// provider that never cancels it still ends).
    final class HangingCheck: DirectoryReachabilityCheck {
        let hangs = Atomic(false)
        let started = Atomic(false)
        let cancelled = Atomic(false)

        func unreachableReason() async -> String? {
            guard hangs.load(ordering: .relaxed) else { return nil }
            started.store(true, ordering: .relaxed)
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                cancelled.store(true, ordering: .relaxed)
            }
            return "stopped"
        }
    }

    @Test func anUnavailableDirectoryRetriesOnWindowsScheduleWithinThePollingInterval() async throws {
        let rig = Rig(try SnapshotFixtures.entries(.base))
        defer { rig.dir.remove() }
        let engine = rig.engine(pollingInterval: .seconds(120))
        _ = try await engine.startPersistent()
        #expect(await Self.destination(engine) == .host(IPv4Address(198, 18, 3, 1)))
        let directory = try #require(engine.directory)
        #expect(await directory.nextPollDelay() == .seconds(120))

        rig.reader.update { $0.failure = DirectoryReadError(.unavailable, server: "ldap://dc.test", "no answer") }
        await engine.refresh()
        // The cached copy applies; the retry comes after 1 minute, then min(4, 2) minutes.
        let cached = await engine.effectivePolicy().filters.first?.provenance.kind
        #expect(cached == .directoryCache)
        #expect(await directory.nextPollDelay() == .seconds(60))
        await directory.pollPolicy()  // after a failure a poll reads everything; it fails again
        #expect(await directory.nextPollDelay() == .seconds(120))
        let status = await directory.status()
        #expect(status.failure == "no answer" && status.lastSuccess != nil && status.server == "ldap://dc.test")
        #expect(rig.decisions.last?.outcome == .unavailable)

        // The DC answers again: the next poll reads everything and the live policy returns.
        rig.reader.update { $0.failure = nil }
        #expect(await directory.pollPolicy())
        #expect(await engine.effectivePolicy().filters.first?.provenance.kind == .directory)
        #expect(await directory.status().failure == nil)
    }

    @Test func aMovedComputerGetsItsNewOUsPolicyAtTheNextRefresh() async throws {
        let rig = Rig(try SnapshotFixtures.entries(.base))
        defer { rig.dir.remove() }
        let engine = rig.engine()
        _ = try await engine.startPersistent()
        #expect(await engine.effectivePolicy().filters.first?.provenance.policyName == "Web Policy")
        // The account now lives in OU=Two: the computer's DN comes from the read, not the configuration.
        rig.reader.update { $0.computerDN = Computer.two.rawValue }
        let directory = try #require(engine.directory)
        await directory.refreshAssignments(trigger: .groupPolicyRefresh)
        #expect(await engine.effectivePolicy().filters.first?.provenance.policyName == "Two A Policy")
        let status = await directory.status()
        #expect(status.computerDN == Computer.two.rawValue)
        #expect(status.appliedGPOs == ["Two A", "Two B", "Default Domain IPsec"])
        #expect(rig.decisions.last?.trigger == .groupPolicyRefresh)
    }

    @Test func everyDecisionIsAnEventNamingTheServerTheGPOAndTheReason() async throws {
        let rig = Rig(try SnapshotFixtures.entries(.base))
        defer { rig.dir.remove() }
        let engine = rig.engine()
        _ = try await engine.startPersistent()
        _ = await engine.effectivePolicy()
        let applied = try #require(rig.decisions.first)
        #expect(applied.outcome == .applied && applied.trigger == .start && applied.policy == "Web Policy")
        #expect(applied.message.contains("from ldap://dc.test"))
        #expect(applied.message.contains("group policy object \"Web IPsec\""))

        rig.reader.update { $0.entries = (try? SnapshotFixtures.entries(.unassigned)) ?? [] }
        rig.reader.update { $0.computerDN = Computer.plain.rawValue }
        await engine.refresh()
        let unassigned = try #require(rig.decisions.last)
        #expect(unassigned.outcome == .unassigned && unassigned.trigger == .refresh)
        #expect(unassigned.message.contains("the cached copy is deleted"))

        rig.reader.update {
            $0.failure = DirectoryReadError(.invalid, server: "ldap://dc.test", "CN=x has no ipsecData")
        }
        await engine.refresh()
        let failed = try #require(rig.decisions.last)
        #expect(failed.outcome == .failed && failed.reason == "CN=x has no ipsecData")
        #expect(PolicyEvent.directoryDecision(failed).priority == 4)
    }
}
