import Driver
import IPsecSystem
import Logging
import ServiceLifecycle
import UnixSignals

/// `ipsecsvc driver`: the IPSec driver as a process of its own (unit `ipsecsvc-driver.service`), as
/// ipsec.sys is apart from the Policy Agent. It alone holds `CAP_NET_ADMIN`: it owns the kernel hooks, the
/// queue readers, the compiled table and the counters; the agent hands it tables, modes and settings over
/// the driver socket (``DriverLink``).
///
/// Start: one driver per network namespace (``DriverInstanceLock``); the last accepted state in the
/// runtime directory, if any, is enforced at once (a restart after a crash: the queues are bound with the
/// saved table before anyone asks); then the socket listens and systemd hears `READY=1`. Without a saved
/// state (computer startup) it changes nothing until told: the boot step hands it the startup mode.
///
/// Stop: SIGTERM or SIGINT ends the process and leaves the kernel rules as they are (secure mode then
/// fails closed until the driver runs again); the service's graceful stop puts the driver in permit mode
/// first. A driver started by the service itself (`--exit-with-service`, without systemd) also exits
/// after that stop.
public struct DriverProcess: Sendable {
    public var configuration: ServiceConfiguration
    /// Exit after the service's graceful stop (the service started this process).
    public var exitsWithService: Bool
    public var journal: any Journal
    public var notifier: any ServiceNotifier

    public init(
        configuration: ServiceConfiguration,
        exitsWithService: Bool = false,
        journal: any Journal = makeDefaultJournal(),
        notifier: any ServiceNotifier = SystemdNotifier()
    ) {
        self.configuration = configuration
        self.exitsWithService = exitsWithService
        self.journal = journal
        self.notifier = notifier
    }

    /// Runs the driver until SIGTERM, SIGINT or (``exitsWithService``) the service's stop.
    /// - Throws: ``DriverError`` when the driver cannot start (another instance in this network
    ///   namespace, a saved state that cannot be read, ...), journaled first.
    public func run() async throws {
        let started = SystemClock.monotonicMicroseconds()
        let configuration = self.configuration
        let journal = self.journal
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let lock: DriverInstanceLock
        do {
            lock = try DriverInstanceLock.acquire(chainPrefix: HookConfiguration().chainPrefix)
        } catch {
            journal.record(JournalEntry.driverFailure("could not start", error))
            throw error
        }
        defer { lock.release() }

        // The saved table is read and decoded on a blocking-pool thread while this task reads the host
        // and makes the driver (two CPUs: the decode, 12 ms of CPU at 100,000 filters, overlaps them);
        // then compiled and enforced before anything else (the socket, the monitor, READY).
        let store = DriverRuntimeStore(path: configuration.driverTablePath)
        async let loading = Self.load(store, journal: journal)
        let keyingRequests = LinkKeyingRequests()
        let driver = DriverFactory.netfilterDriver(
            configuration,
            journal: journal,
            keyingRequests: keyingRequests
        )
        let host = DriverHost(
            driver: driver,
            store: store,
            journal: journal,
            info: DriverProcessInfo(
                pid: CurrentProcess.pid,
                startedAt: SystemClock.secondsSince1970(),
                socket: configuration.driverSocketPath,
                exitsWithService: exitsWithService
            )
        )
        if let saved = await loading {
            do {
                let times = try await host.restore(saved, startedAt: started)
                journal.record(Self.restored(saved, times: times, startedAt: started))
            } catch {
                journal.record(JournalEntry.driverFailure("could not enforce its saved state again", error))
            }
        }

        let server = try DriverLinkServer(path: configuration.driverSocketPath, journal: journal) { request, tail, _ in
            await host.handle(request, tail: tail)
        }
        try server.start()
        notifier.ready(status: "IPSec driver ready on \(configuration.driverSocketPath)")

        // Started together, shut down in reverse order once the socket's service ends (a signal, or the
        // service's stop for a driver the service started): the socket, then the keying requests, then
        // the monitor. No task of the driver is cancelled by hand.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: DriverMonitorService(driver: driver), successTerminationBehavior: .ignore),
                    .init(
                        service: KeyingRequestService(requests: keyingRequests, server: server),
                        successTerminationBehavior: .ignore
                    ),
                    .init(
                        service: DriverSocketService(
                            server: server,
                            host: host,
                            signals: signals,
                            notifier: notifier,
                            exitsWithService: exitsWithService
                        ),
                        successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup
                    ),
                ],
                logger: Logger.journal(label: "ipsecsvc.driver.lifecycle", level: .warning)
            )
        )
        try await group.run()
    }

    /// The saved state, read and decoded; `nil` when there is none or it cannot be read (journaled: the
    /// agent hands over a new one; until then the kernel rules stay as they are).
    static func load(_ store: DriverRuntimeStore, journal: any Journal) async -> SavedDriverState? {
        do {
            return try await BlockingPool.shared.run { try store.loadDecoded() }
        } catch {
            journal.record(JournalEntry.driverFailure("could not read its saved state", error))
            return nil
        }
    }

    /// The journal entry of a restart that enforces its saved state again, with its phases in ms after
    /// the start of the driver's run (Benchmarks/driver/run-restart-bench.sh reads them).
    static func restored(_ saved: SavedDriverState, times: DriverRestoreTimes, startedAt: UInt64) -> JournalEntry {
        let record = saved.record
        let now = SystemClock.monotonicMicroseconds()
        func ms(_ time: UInt64) -> Int { Int((max(time, startedAt) - startedAt) / 1000) }
        var phases = "table read \(ms(saved.read)), decoded \(ms(saved.decoded)), compiled \(ms(times.compiled))"
        if let bound = times.queuesBound { phases += ", queues bound \(ms(bound))" }
        let mode = record.mode.map { "\($0)" }
        return JournalEntry(
            .driverModeChanged,
            priority: .warning,
            "The IPSec driver restarted and enforces its last accepted state again (\(mode ?? "no") mode, table generation \(record.stamp?.generation ?? 0)) \(ms(now)) ms after its start (\(phases) ms).",
            fields: ["IPSECSVC_DRIVER_MODE": mode ?? "none"]
        )
    }
}

/// The driver's periodic checks and summaries (``NetfilterDriver/monitor()``) for as long as the process
/// runs.
struct DriverMonitorService: Service {
    let driver: NetfilterDriver

    func run() async throws {
        let driver = driver
        await cancelWhenGracefulShutdown { await driver.monitor() }
    }
}

/// The packet path's keying requests, sent to every connected agent as link notices.
struct KeyingRequestService: Service {
    let requests: LinkKeyingRequests
    let server: DriverLinkServer

    func run() async throws {
        let requests = requests
        let server = server
        await cancelWhenGracefulShutdown { await requests.forward(to: server) }
        requests.finish()
    }
}

/// The driver socket until SIGTERM or SIGINT, or (a driver the service started) the service's stop;
/// its end shuts the group down.
struct DriverSocketService: Service {
    let server: DriverLinkServer
    let host: DriverHost
    let signals: UnixSignalsSequence
    let notifier: any ServiceNotifier
    let exitsWithService: Bool

    func run() async throws {
        let signals = signals
        let host = host
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await _ in signals { return } }
            group.addTask { for await _ in host.exitRequests { return } }
            await group.next()
            group.cancelAll()
        }
        notifier.stopping(status: "IPSec driver stopping")
        if exitsWithService { await server.broadcast(.exiting) }
        await server.stop()
    }
}
