import IPsecSystem

#if canImport(Glibc)
import Glibc
#endif

/// One message between the service and a plugin host (docs/plugins.md, "The plugin-host protocol").
///
/// On the wire: a 4-byte big-endian payload length, a 1-byte type, the payload. The service sends
/// `open`, `fetch` and `close`; the host answers `hello` (once, after loading), `opened`, `document`
/// and `error`, and sends `changed` whenever the plugin signals a change.
struct PluginFrame: Hashable, Sendable {
    enum Kind: UInt8, Sendable {
        /// Host → service, first: the plugin's info (`key=value` lines) after the ABI checks passed.
        case hello = 1
        /// Service → host: the configuration string.
        case open = 2
        /// Host → service: `open` succeeded.
        case opened = 3
        /// Service → host: produce the current document.
        case fetch = 4
        /// Host → service: the document's bytes.
        case document = 5
        /// Host → service: the plugin (or the host) failed; the payload is the reason.
        case error = 6
        /// Host → service: the plugin called its change callback.
        case changed = 7
        /// Service → host: close the plugin and exit.
        case close = 8
    }

    var kind: Kind
    var payload: [UInt8]

    init(_ kind: Kind, _ payload: [UInt8] = []) {
        self.kind = kind
        self.payload = payload
    }

    init(_ kind: Kind, text: String) {
        self.init(kind, Array(text.utf8))
    }

    var text: String { String(decoding: payload, as: UTF8.self) }

    /// Longest error message a host sends.
    static let maxErrorLength = 4096
    static let headerSize = 5
}

/// Reading and writing frames on a stream socket. Blocking: call only from a dedicated thread or
/// from the single-threaded plugin host.
enum PluginFrameIO {
    enum Failure: Error, Sendable, CustomStringConvertible {
        case io(SystemError)
        case tooLarge(Int, limit: Int)
        case unknownKind(UInt8)
        case truncated

        var description: String {
            switch self {
            case .io(let error): "\(error)"
            case .tooLarge(let size, let limit): "frame of \(size) bytes exceeds the limit of \(limit) bytes"
            case .unknownKind(let kind): "unknown frame type \(kind)"
            case .truncated: "connection closed in the middle of a frame"
            }
        }
    }

    /// Writes one frame. `MSG_NOSIGNAL`: a dead peer gives an error, not SIGPIPE.
    static func write(_ frame: PluginFrame, to fd: Int32) throws(Failure) {
        let length = UInt32(frame.payload.count)
        var bytes: [UInt8] = [
            UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF),
            frame.kind.rawValue,
        ]
        bytes += frame.payload
        var offset = 0
        do {
            while offset < bytes.count {
                offset += try SystemCall.check("send") {
                    bytes.withUnsafeBytes { raw in
                        send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                    }
                }
            }
        } catch {
            throw .io(error)
        }
    }

    /// Reads one frame.
    /// - Returns: `nil` on end of stream between frames.
    /// - Throws: on I/O errors, an unknown type, a payload above `limit` (not read), or a cut frame.
    static func read(from fd: Int32, limit: Int) throws(Failure) -> PluginFrame? {
        var header = [UInt8](repeating: 0, count: PluginFrame.headerSize)
        let got = try readFully(fd, into: &header)
        if got == 0 { return nil }
        guard got == header.count else { throw .truncated }
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard let kind = PluginFrame.Kind(rawValue: header[4]) else { throw .unknownKind(header[4]) }
        guard length <= limit else { throw .tooLarge(length, limit: limit) }
        var payload = [UInt8](repeating: 0, count: length)
        guard try readFully(fd, into: &payload) == length else { throw .truncated }
        return PluginFrame(kind, payload)
    }

    /// Fills `buffer` unless the stream ends first; returns the bytes read.
    private static func readFully(_ fd: Int32, into buffer: inout [UInt8]) throws(Failure) -> Int {
        var offset = 0
        do {
            while offset < buffer.count {
                let count = try SystemCall.check("recv") {
                    buffer.withUnsafeMutableBytes { raw in recv(fd, raw.baseAddress! + offset, raw.count - offset, 0) }
                }
                if count == 0 { break }
                offset += count
            }
        } catch {
            throw .io(error)
        }
        return offset
    }
}
