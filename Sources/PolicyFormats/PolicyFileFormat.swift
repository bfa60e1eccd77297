/// The file formats a whole store can be read from or written to.
///
/// New formats (registry exports, LDIF, DSMLv2, netsh scripts) join as new cases: give each its
/// extensions, a content sniff and a reader/writer in ``PolicyFile``.
public enum PolicyFileFormat: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// The native policy XML (`policies-xml/ipsec-policy.xsd`).
    case xml
    /// A registry export (`reg export`, regedit `.reg`) of the IPsec policy stores.
    case reg
    /// An LDIF directory dump (`ldifde -f`, `ldapsearch`) of the IP Security container.
    case ldif
    /// A DSMLv2 directory dump of the IP Security container (`.dsml`, or `.xml` with DSML content).
    case dsml
    /// A `netsh ipsec static` script: read by running it on an empty store, written as `netsh ipsec dump`.
    case netsh

    /// File name extensions (lower case, without the dot) that select this format.
    public var fileExtensions: [String] {
        switch self {
        case .xml: ["xml"]
        case .reg: ["reg"]
        case .ldif: ["ldif", "ldf"]
        case .dsml: ["dsml"]
        case .netsh: ["netsh"]
        }
    }

    /// Whether ``PolicyFile`` can write this format (some formats are import-only).
    public var isWritable: Bool {
        switch self {
        case .xml, .reg, .ldif, .dsml, .netsh: true
        }
    }

    public var description: String { rawValue }

    /// The format named by `path`'s extension (any letter case), if any.
    public init?(path: String) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        let fileExtension = name[name.index(after: dot)...].lowercased()
        guard let format = Self.allCases.first(where: { $0.fileExtensions.contains(fileExtension) }) else {
            return nil
        }
        self = format
    }

    /// Guesses the format from the first bytes of the content; `nil` when nothing fits.
    public init?(sniffing bytes: [UInt8]) {
        var start = bytes.startIndex
        // A UTF-8 byte order mark and leading white space say nothing about the format.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start += 3 }
        while start < bytes.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[start]) { start += 1 }
        guard start < bytes.endIndex else { return nil }
        if let windows = WindowsFileSniffer.format(bytes) {
            self = windows
            return
        }
        if bytes[start] == UInt8(ascii: "<") {
            self = .xml
            return
        }
        return nil
    }
}
