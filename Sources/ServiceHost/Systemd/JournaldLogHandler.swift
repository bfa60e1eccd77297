internal import CSystemd
import IPsecSystem
public import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The service's one way into the journal: a swift-log `LogHandler` that sends each message to journald
/// (`sd_journal_sendv`), or as one line to standard error when journald cannot be reached.
///
/// Structured fields come from the metadata: `MESSAGE_ID` and `IPSECSVC_*` keys (upper-case journal
/// field names) are sent as they are; any other key becomes `IPSECSVC_` and its name in upper case. The
/// level is the syslog `PRIORITY`. Messages and values may quote plugin names, store contents or
/// configuration values, so their control characters are escaped. Called from any thread; each message
/// is one datagram (or one `write(2)`), so messages from several threads never interleave.
public struct JournaldLogHandler: LogHandler {
    /// Where the messages go.
    public enum Output: Sendable {
        /// journald, falling back to standard error for a message journald refuses.
        case journald
        /// Standard error only.
        case standardError
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public let output: Output

    public init(output: Output) { self.output = output }

    /// journald when its socket exists, standard error otherwise.
    public static func automatic() -> JournaldLogHandler {
        JournaldLogHandler(output: FileSystem.exists("/run/systemd/journal/socket") ? .journald : .standardError)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = Self.fields(merged)
        let message = event.message.description
        if output == .journald {
            let all = Self.journalFields(level: event.level, message: message, fields: fields)
            let result = withIOVectors(all) { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
            if result >= 0 { return }
        }
        // One write(2) per message so that lines from several threads never interleave.
        let bytes = Array((Self.line(level: event.level, message: message, fields: fields) + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    // MARK: - The format (one for journald and standard error alike)

    /// The syslog priority of a level (`PRIORITY=`): critical 2, error 3, warning 4, notice 5, info 6,
    /// debug and trace 7.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .critical: 2
        case .error: 3
        case .warning: 4
        case .notice: 5
        case .info: 6
        case .debug, .trace: 7
        }
    }

    /// The metadata as journal fields: upper-case names, values without control characters.
    static func fields(_ metadata: Logger.Metadata) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in metadata {
            result[fieldName(key)] = "\(value)".terminalEscaped()
        }
        return result
    }

    /// `key` as a journal field name: as it is when it is one already (upper-case letters, digits and
    /// `_`, not starting with `_` or a digit), else `IPSECSVC_` and the key in upper case.
    static func fieldName(_ key: String) -> String {
        func valid(_ name: Substring) -> Bool {
            guard let first = name.first, first != "_", !first.isNumber else { return false }
            return name.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
        }
        if valid(key[...]) { return key }
        let upper = key.uppercased().map { ("A"..."Z").contains($0) || ("0"..."9").contains($0) ? $0 : "_" }
        return "IPSECSVC_" + String(upper)
    }

    /// `FIELD=value` strings in a stable order, as journald receives them.
    static func journalFields(level: Logger.Level, message: String, fields: [String: String]) -> [String] {
        var result = ["MESSAGE=\(message.terminalEscaped())", "PRIORITY=\(priority(level))"]
        if let id = fields["MESSAGE_ID"] { result.append("MESSAGE_ID=\(id)") }
        result.append("SYSLOG_IDENTIFIER=ipsecsvc")
        for key in fields.keys.sorted() where key != "MESSAGE_ID" { result.append("\(key)=\(fields[key]!)") }
        return result
    }

    /// One line for standard error: the message, then the id and fields.
    static func line(level: Logger.Level, message: String, fields: [String: String]) -> String {
        var extras: [String] = []
        if let id = fields["MESSAGE_ID"] { extras.append("MESSAGE_ID=\(id)") }
        for key in fields.keys.sorted() where key != "MESSAGE_ID" { extras.append("\(key)=\(fields[key]!)") }
        let suffix = extras.isEmpty ? "" : " (\(extras.joined(separator: " ")))"
        return "ipsecsvc[\(getpid())]: <\(priority(level))> \(message.terminalEscaped())\(suffix)"
    }
}

extension Logger {
    /// A logger of the service into the journal (``JournaldLogHandler/automatic()``) at `level`.
    public static func journal(label: String, level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { _ in JournaldLogHandler.automatic() }
        logger.logLevel = level
        return logger
    }
}

/// Calls `body` with an iovec array pointing at copies of `strings`.
private func withIOVectors<R>(_ strings: [String], _ body: (UnsafeMutableBufferPointer<iovec>) -> R) -> R {
    let buffers = strings.map { Array($0.utf8) }
    var storage: [UnsafeMutableRawPointer] = []
    var vectors: [iovec] = []
    for buffer in buffers {
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(buffer.count, 1), alignment: 1)
        buffer.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        storage.append(pointer)
        vectors.append(iovec(iov_base: pointer, iov_len: buffer.count))
    }
    defer { for pointer in storage { pointer.deallocate() } }
    return vectors.withUnsafeMutableBufferPointer { body($0) }
}
