import Driver
public import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The kinds of event the service journals, each with a stable `MESSAGE_ID` (documented in
/// docs/service.md; never change one, `journalctl MESSAGE_ID=…` queries depend on them).
public enum JournalEventKind: String, Hashable, Sendable, Codable, CaseIterable {
    case serviceStarted = "ecb601e651f74f16956b97fc60503b4b"
    case serviceStopped = "e66c73f71dda4085b876fe8993bd98fe"
    case serviceStartFailed = "721cbb5f5df54466bbcc9fd5c21195d2"
    case driverModeChanged = "534186f9c7fe437b9b133ffd6cdb8036"
    case persistentPolicyFailed = "256a55b9071a4f7bb313c5c0e42753dd"
    case policyApplied = "da4c29b9e1884206a06b92f3f89f2d18"
    case cachedDirectoryPolicyApplied = "8d64ea48115b435ab4e5d081cf87a8a1"
    case policySourceFailed = "73f33b24d7bd4e51a015c92615eabf94"
    case policyRefreshed = "ca4274dd851a47e8a7b303d78db12c33"
    case accessRefused = "540e0118f1d54a608fb55d33a4cfc578"
    case bootModeApplied = "6d4e066fecbf463ea1dd436caefaea16"
    case startTypeChanged = "7d5c4ef40ef343b19fa32e53229a7553"
    case noStaticPolicy = "0b972a9ce5e6408b8d4bb333f69495a3"
    case persistentPendingRestart = "ce46cea326c948bb8e31fe1a886012b0"
    case driverEvent = "4cfe5d06756849378cff44ff83f6512b"
    case driverFailed = "35322efa7a35466e8e99d9328ff2f898"
    case directoryRead = "d4e322b138b64995be9fcfdcf97ed345"
    case ikeDaemonConnected = "835c82b217614f34a017b5f61b289ed7"
    case ikeDaemonLost = "13304292c7f84244a1c0bb8120b01506"
    case ikeLoadFailed = "0b212fd9419e4e6eb829ca75135cc6fe"
    case ikeNegotiationFailed = "037fce86eb994ade8a94e2d210e3f5ec"
    case ikeNotNegotiable = "dc548bcc358a4a3a8fefe5a2e3fa9103"
    case ikeSoftAssociation = "6ae8508cd62e40adbafdf6150351ea3d"
    case ikeNegotiated = "86e890d7af814eecb2ae8a784d8edfc1"

    /// The 128-bit id as journald stores it.
    public var messageID: String { rawValue }
}

/// syslog priorities (`PRIORITY=`).
public enum JournalPriority: Int, Hashable, Sendable, Codable {
    case critical = 2
    case error = 3
    case warning = 4
    case notice = 5
    case info = 6
    case debug = 7
}

/// One journal entry: the event kind, the sentence, and extra structured fields.
public struct JournalEntry: Hashable, Sendable, Codable {
    public var kind: JournalEventKind
    public var priority: JournalPriority
    public var message: String
    /// Extra fields, upper-case names (`IPSECSVC_SOURCE`, `IPSECSVC_POLICY`, ...).
    public var fields: [String: String]

    public init(
        _ kind: JournalEventKind,
        priority: JournalPriority = .info,
        _ message: String,
        fields: [String: String] = [:]
    ) {
        self.kind = kind
        self.priority = priority
        self.message = message
        self.fields = fields
    }

    /// The entry as swift-log metadata: `MESSAGE_ID` and the extra fields.
    public var metadata: Logger.Metadata {
        var metadata: Logger.Metadata = ["MESSAGE_ID": .string(kind.messageID)]
        for (key, value) in fields { metadata[key] = .string(value) }
        return metadata
    }

    /// `FIELD=value` strings in a stable order, as journald receives them (``JournaldLogHandler``).
    public var journalFields: [String] {
        JournaldLogHandler.journalFields(
            level: priority.level,
            message: message,
            fields: JournaldLogHandler.fields(metadata)
        )
    }

    /// One line for standard error, as ``JournaldLogHandler`` writes it without journald.
    public var line: String {
        JournaldLogHandler.line(level: priority.level, message: message, fields: JournaldLogHandler.fields(metadata))
    }
}

extension JournalPriority {
    /// The swift-log level of the same syslog priority.
    public var level: Logger.Level { Logger.Level(syslogPriority: rawValue) }
}

/// Where the service's events go. Implementations must be cheap and never block for long: the
/// agent calls ``record(_:)`` from its actor.
public protocol Journal: Sendable {
    func record(_ entry: JournalEntry)
}

/// The service's events as swift-log messages: each entry is one message at its priority's level, with
/// `MESSAGE_ID` and its fields as metadata. The service's logger has a ``JournaldLogHandler``, so every
/// event reaches journald (or standard error) through the one log handler.
public struct LoggingJournal: Journal {
    public var logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func record(_ entry: JournalEntry) {
        logger.log(level: entry.priority.level, "\(entry.message)", metadata: entry.metadata)
    }
}

/// The service's journal: every event, into journald when it runs, standard error otherwise.
public func makeDefaultJournal() -> any Journal {
    LoggingJournal(logger: .journal(label: "ipsecsvc", level: .trace))
}

/// Sends to several journals (e.g. journald and a recording double).
public struct CompositeJournal: Journal {
    public var journals: [any Journal]

    public init(_ journals: [any Journal]) { self.journals = journals }

    public func record(_ entry: JournalEntry) { for journal in journals { journal.record(entry) } }
}
