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
            journal.record(Self.failure("could not start", error))
            throw error
        }
        defer { lock.release() }

        let store = DriverRuntimeStore(path: configuration.driverTablePath)
        let saved: (record: DriverRuntimeRecord, table: [UInt8])?
        do {
            saved = try await BlockingPool.shared.run { try store.load() }
        } catch {
            // An unreadable state is no state: the agent hands over a new one; until then the kernel
            // rules stay as they are.
            journal.record(Self.failure("could not read its saved state", error))
            saved = nil
        }
        let keyingRequests = LinkKeyingRequests()
        let driver = DriverFactory.netfilterDriver(
            configuration,
            journal: journal,
            lastEpoch: saved?.record.epoch ?? 0,
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
        if let saved {
            do {
                let milliseconds = try await host.restore(saved.record, table: saved.table, startedAt: started)
                journal.record(
                    JournalEntry(
                        .driverModeChanged,
                        priority: .warning,
                        "The IPSec driver restarted and enforces its last accepted state again (\(saved.record.mode.map { "\($0)" } ?? "no") mode, table generation \(saved.record.stamp?.generation ?? 0)) \(milliseconds) ms after its start.",
                        fields: ["IPSECSVC_DRIVER_MODE": saved.record.mode.map { "\($0)" } ?? "none"]
                    )
                )
            } catch {
                journal.record(Self.failure("could not enforce its saved state again", error))
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

    /// The journal entry of a driver that cannot do its job.
    static func failure(_ what: String, _ error: any Error) -> JournalEntry {
        JournalEntry(
            .driverFailed,
            priority: .error,
            "The IPSec driver \(what): \(error).",
            fields: ["IPSECSVC_DRIVER_ERROR": (error as? DriverError)?.kind.rawValue ?? "failed"]
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
