import Driver
import InMemoryLogging
import Logging
import Testing

/// A driver without the service logs its events through swift-log, at the level of the event's syslog
/// priority (the one logging path, DESIGN.md §2).
@Suite struct DriverEventLoggingTests {
    @Test func eventsReachTheLoggerAtTheirPrioritysLevel() {
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "test", factory: { _ in handler })
        logger.logLevel = .trace
        let sink = LoggingDriverEventSink(logger: logger)
        sink.event("dropped inbound 198.18.0.1 → 198.18.0.2", priority: 4)
        sink.event("summary", priority: 6)
        sink.event("hooks removed by another program", priority: 3)
        #expect(handler.entries.map(\.level) == [.warning, .info, .error])
        #expect(
            handler.entries.map { "\($0.message)" } == [
                "dropped inbound 198.18.0.1 → 198.18.0.2", "summary", "hooks removed by another program",
            ]
        )
    }

    @Test func everySyslogPriorityHasALevel() {
        let levels = (0...7).map { Logger.Level(syslogPriority: $0) }
        #expect(levels == [.critical, .critical, .critical, .error, .warning, .notice, .info, .debug])
    }
}
