internal import CLibXML2

/// Collects the first error libxml2 reports through a per-context structured handler.
///
/// One sink belongs to one parser or validation context, so parses on different threads never share
/// error state, and nothing goes to libxml2's global handler (which would print to stderr).
final class LibXMLErrorSink {
    /// An error as libxml2 reported it, with its message cleaned up for one-line output.
    struct Captured {
        var line: Int
        /// 0 when libxml2 does not know it (schema validity errors).
        var column: Int
        var message: String
        var isValidityError: Bool
    }

    private(set) var first: Captured?

    /// Called once, when the first error arrives.
    var stop: (() -> Void)?

    /// The C callback; `userData` is the sink, passed unretained by the owner that keeps it alive.
    static let handler: xmlStructuredErrorFunc = { userData, error in
        guard let userData, let error else { return }
        Unmanaged<LibXMLErrorSink>.fromOpaque(userData).takeUnretainedValue().record(error.pointee)
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    private func record(_ error: xmlError) {
        // Warnings (e.g. about namespace URIs) do not make a document unusable.
        guard first == nil, error.level.rawValue >= XML_ERR_ERROR.rawValue else { return }
        let raw = error.message.map { String(cString: $0) } ?? "unknown XML error (code \(error.code))"
        first = Captured(
            line: Int(error.line),
            column: Int(error.int2),
            message: Self.clean(raw),
            isValidityError: error.domain == Int32(XML_FROM_SCHEMASV.rawValue)
        )
        stop?()
    }

    /// Drops the trailing newline, the `{namespace}` prefixes of element names and newlines inside.
    static func clean(_ message: String) -> String {
        var text = message
        while let last = text.last, last.isNewline || last == " " { text.removeLast() }
        text = text.replacing("{\(NativePolicyXML.namespace)}", with: "")
        return text.replacing("\n", with: " ")
    }
}
