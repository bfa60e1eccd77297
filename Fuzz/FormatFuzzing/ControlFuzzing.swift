import ServiceHost

/// The control protocol's request side, as the service reads a connection: the framer (one line within
/// a size limit) fed in chunks, then the one decoder (envelope, version, command, typed body) of every
/// command the service registers. Oracles: the framing does not depend on how the bytes are chunked; a
/// line holds no newline and stays within the limit; decoding the same line twice gives the same
/// outcome; a decoded request names a registered command.
enum ControlFuzzing {
    static let limit = 4096
    static let registry = ControlRegistry.standard()

    static func run(_ bytes: [UInt8]) -> Bool {
        let whole = frame(bytes, chunks: [bytes.count])
        // Chunk sizes drawn from the input itself, so that a run is reproducible from its input alone.
        var mutator = Mutator(seed: bytes.reduce(0x51) { $0 &* 31 &+ UInt64($1) })
        let chunks = (0..<8).map { _ in 1 + mutator.below(64) }
        check(frame(bytes, chunks: chunks) == whole, "framing depends on the chunks")
        guard case .line(let line) = whole else { return false }
        check(!line.contains(UInt8(ascii: "\n")) && line.count <= limit, "framed line")
        let first = registry.decode(line)
        let second = registry.decode(line)
        switch (first, second) {
        case (.success(let request), .success(let again)):
            check(request.command == again.command, "decoding is not deterministic")
            return true
        case (.failure(let error), .failure(let again)):
            check(error == again, "decoding is not deterministic")
            return false
        default:
            check(false, "decoding is not deterministic")
            return false
        }
    }

    /// The framer's outcome for `bytes` arriving in pieces of the given sizes (cycled), then the end of
    /// the stream.
    private static func frame(_ bytes: [UInt8], chunks: [Int]) -> ControlRequestFramer.Outcome {
        var framer = ControlRequestFramer(limit: limit)
        var offset = 0
        var index = 0
        while offset < bytes.count {
            let size = max(1, chunks[index % chunks.count])
            index += 1
            let outcome = framer.append(bytes[offset..<min(bytes.count, offset + size)])
            offset += size
            if outcome != .needMore { return outcome }
        }
        return framer.end()
    }

    private static func check(_ condition: Bool, _ what: String) {
        if !condition { preconditionFailure("control protocol: \(what)") }
    }
}
