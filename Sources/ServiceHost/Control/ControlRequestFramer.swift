/// The framing of a control request: the bytes up to the first newline, or up to the end of the stream,
/// at most `limit` of them. The server's loop feeds it what each `recv` returns; pure, so that the fuzz
/// target `control` can feed it hostile input in any chunking (Fuzz/README.md).
public struct ControlRequestFramer: Sendable {
    /// What the bytes so far amount to.
    public enum Outcome: Hashable, Sendable {
        /// No newline yet, within the limit.
        case needMore
        /// A whole request line, without its newline; bytes after the newline are ignored.
        case line([UInt8])
        /// Over the limit before a newline came.
        case tooLarge
    }

    public let limit: Int
    private var bytes: [UInt8] = []

    public init(limit: Int) { self.limit = limit }

    /// Whether nothing has arrived yet.
    public var isEmpty: Bool { bytes.isEmpty }

    /// Adds what arrived.
    public mutating func append(_ chunk: some Collection<UInt8>) -> Outcome {
        if let newline = chunk.firstIndex(of: UInt8(ascii: "\n")) {
            bytes.append(contentsOf: chunk[..<newline])
            return bytes.count > limit ? .tooLarge : .line(bytes)
        }
        bytes.append(contentsOf: chunk)
        return bytes.count > limit ? .tooLarge : .needMore
    }

    /// The peer closed its side: what it sent is the request (`needMore` when it sent nothing).
    public func end() -> Outcome {
        if bytes.isEmpty { return .needMore }
        return bytes.count > limit ? .tooLarge : .line(bytes)
    }
}
