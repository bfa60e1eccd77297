import ServiceHost

#if canImport(Glibc)
import Glibc
#endif

/// Standard output for every command's results. Text from stores, plugins and configuration files may
/// carry terminal control characters: they are written escaped (``Swift/StringProtocol/terminalEscaped(keepingLineBreaks:)``),
/// with one `write(2)` loop per call so that output and prompts keep their order.
func standardOutput(_ text: String, terminator: String = "\n") {
    writeAll(text.terminalEscaped(keepingLineBreaks: true) + terminator, to: STDOUT_FILENO)
}

/// One line (or a block of lines) to standard error, escaped like ``standardOutput(_:terminator:)``;
/// standard output stays for results.
func standardError(_ text: String) {
    // write(2) on the descriptor: the C `stderr` global is not concurrency-safe in Swift 6.
    writeAll(text.terminalEscaped(keepingLineBreaks: true) + (text.hasSuffix("\n") ? "" : "\n"), to: STDERR_FILENO)
}

private func writeAll(_ text: String, to fd: Int32) {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        if written <= 0 { return }
        offset += written
    }
}
