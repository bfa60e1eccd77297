import DecisionCore
import Driver
import IPsecTestKit
import PolicyModel
import Synchronization
import Testing

/// The driver's periodic work is structured: it runs in ``NetfilterDriver/monitor()`` on its owner's task
/// (the driver process's `ServiceGroup`), and nothing of it outlives that task.
///
/// The host is re-read on the blocking pool, which other suites may keep busy for a while (a silent
/// domain controller's read): hence the long waits.
@Suite struct DriverMonitorTests {
    /// A host whose addresses a test changes, counting how often the driver reads it.
    final class ChangingHost: HostInfoSource {
        private let state = Mutex<(info: HostInfo, reads: Int)>((DecisionFixture.host, 0))

        func current() -> HostInfo {
            state.withLock { state in
                state.reads += 1
                return state.info
            }
        }

        var reads: Int { state.withLock { $0.reads } }

        func add(_ address: IPv4Address) { state.withLock { $0.info.addresses.append(address) } }
    }

    final class RecordingEvents: DriverEventSink {
        private let messages = Mutex<[String]>([])

        func event(_ message: String, priority: Int) { messages.withLock { $0.append(message) } }

        var summaries: Int { messages.withLock { $0.filter { $0.hasPrefix("summary:") }.count } }
    }

    func driver(
        host: ChangingHost,
        events: RecordingEvents,
        hostChecks: Duration = .milliseconds(20)
    ) -> NetfilterDriver {
        NetfilterDriver(
            configuration: NetfilterDriverConfiguration(
                hostInfo: host,
                hostCheckInterval: hostChecks,
                hookCheckInterval: .milliseconds(20),
                eventSink: events,
                installsHooks: false
            )
        )
    }

    @Test func hostChecksRunOnTheMonitorsTaskAndEndWithIt() async throws {
        let host = ChangingHost()
        let driver = driver(host: host, events: RecordingEvents())
        try await driver.enterStartupMode(.block, exemptions: [])
        let before = await driver.status().counters.table?.hostAddresses
        host.add(IPv4Address("198.18.7.7")!)
        let followed = await withTaskGroup(of: Void.self) { group in
            group.addTask { await driver.monitor() }
            let followed = await eventually(timeout: .seconds(90)) {
                await driver.status().counters.table?.hostAddresses == (before ?? 0) + 1
            }
            // Cancelling the owner's task ends the monitor: the group returns only once it has.
            group.cancelAll()
            return followed
        }
        #expect(followed, "the monitor did not re-read the host")
        // Nothing of the driver's periodic work is left running: the host is not read any more. (An
        // observation window, not a synchronisation: the checks ran every 20 ms.)
        let reads = host.reads
        try await Task.sleep(for: .milliseconds(300))
        #expect(host.reads == reads, "the driver still reads the host without its monitor")
    }

    @Test func summariesFollowTheLogIntervalAndStopWithTheService() async throws {
        let events = RecordingEvents()
        // No host checks (they take the blocking pool): only the summary's timing matters here.
        let driver = driver(host: ChangingHost(), events: events, hostChecks: .seconds(3600))
        try await driver.configure(DriverSettings(logIntervalSeconds: 1))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await driver.monitor() }
            // Before any mode: no summary (the driver enforces nothing yet).
            #expect(events.summaries == 0)
            try? await driver.enterOperationalMode(.permit)
            #expect(await eventually(timeout: .seconds(90)) { events.summaries >= 1 }, "no summary")
            // After the service's stop the monitor keeps running but is quiet.
            try? await driver.shutdown()
            let after = events.summaries
            try? await Task.sleep(for: .milliseconds(1_500))
            #expect(events.summaries <= after + 1, "summaries went on after the stop")
            group.cancelAll()
        }
    }
}
