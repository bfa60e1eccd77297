import Logging
import Synchronization
import Testing

@testable import ServiceHost

/// The one log path: journal events and swift-log messages leave through ``JournaldLogHandler`` with the
/// fields journald queries depend on (docs/service.md, "Journal").
@Suite struct JournaldLogHandlerTests {
    /// The contract of the events: `MESSAGE`, `PRIORITY`, `MESSAGE_ID`, `SYSLOG_IDENTIFIER`, then the
    /// `IPSECSVC_*` fields in name order, control characters escaped.
    @Test func journalEventsKeepTheirFields() {
        let entry = JournalEntry(
            .policySourceFailed,
            priority: .warning,
            "plugin:\u{1B}[2Jevil failed",
            fields: ["IPSECSVC_SOURCE": "plugin:\u{1B}[2Jevil", "IPSECSVC_SOURCE_KIND": "plugin"]
        )
        #expect(
            entry.journalFields == [
                "MESSAGE=plugin:\\u001b[2Jevil failed", "PRIORITY=4", "MESSAGE_ID=73f33b24d7bd4e51a015c92615eabf94",
                "SYSLOG_IDENTIFIER=ipsecsvc", "IPSECSVC_SOURCE=plugin:\\u001b[2Jevil", "IPSECSVC_SOURCE_KIND=plugin",
            ]
        )
        #expect(
            entry.line.hasSuffix(
                "<4> plugin:\\u001b[2Jevil failed (MESSAGE_ID=73f33b24d7bd4e51a015c92615eabf94 "
                    + "IPSECSVC_SOURCE=plugin:\\u001b[2Jevil IPSECSVC_SOURCE_KIND=plugin)"
            )
        )
    }

    /// Every journal priority is the swift-log level of the same syslog priority, and back.
    @Test func prioritiesAndLevelsAgree() {
        for priority in [JournalPriority.critical, .error, .warning, .notice, .info, .debug] {
            #expect(JournaldLogHandler.priority(priority.level) == priority.rawValue)
        }
        #expect(JournaldLogHandler.priority(.trace) == 7)
    }

    /// Metadata of other loggers (swift-service-lifecycle's `sl-service`, ...) becomes `IPSECSVC_*`
    /// fields; journal field names pass as they are.
    @Test func metadataKeysBecomeJournalFieldNames() {
        #expect(JournaldLogHandler.fieldName("MESSAGE_ID") == "MESSAGE_ID")
        #expect(JournaldLogHandler.fieldName("IPSECSVC_POLICY") == "IPSECSVC_POLICY")
        #expect(JournaldLogHandler.fieldName("sl-service") == "IPSECSVC_SL_SERVICE")
        #expect(JournaldLogHandler.fieldName("_PID") == "IPSECSVC__PID")
        #expect(JournaldLogHandler.fieldName("1x") == "IPSECSVC_1X")
    }

    /// A journal event sent through a logger carries the same fields as the event itself.
    @Test func loggingJournalSendsTheEventAsMetadata() {
        let captured = CapturedEvents()
        var logger = Logger(label: "test") { _ in CapturingHandler(events: captured) }
        logger.logLevel = .trace
        let entry = JournalEntry(.driverEvent, priority: .debug, "drop", fields: ["IPSECSVC_REASON": "blocked"])
        LoggingJournal(logger: logger).record(entry)
        let event = captured.events.first
        #expect(event?.level == .debug)
        #expect(event?.message.description == "drop")
        let fields = JournaldLogHandler.fields(event?.metadata ?? [:])
        #expect(fields == ["MESSAGE_ID": JournalEventKind.driverEvent.messageID, "IPSECSVC_REASON": "blocked"])
    }
}

private final class CapturedEvents: Sendable {
    let storage = Mutex<[LogEvent]>([])
    var events: [LogEvent] { storage.withLock { $0 } }
}

private struct CapturingHandler: LogHandler {
    let events: CapturedEvents
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) { events.storage.withLock { $0.append(event) } }
}
