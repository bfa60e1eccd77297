public import PolicyModel

/// Reads and writes whole stores as files through a table of codecs, choosing the format by an
/// explicit override, else the file name's extension, else the content (reading only).
///
/// ``builtIn`` knows the native XML and the Windows formats; a program adds other modules' codecs
/// with ``adding(_:)`` (ipsecsvc adds Netsh's scripts). The path `-` means standard input or standard
/// output. Errors name the file as the user gave it.
public struct PolicyFile: Sendable {
    /// Bigger inputs are refused rather than read into memory: real policy files are kilobytes.
    public static let maximumSize = 64 << 20

    /// XML, `.reg`, LDIF and DSML.
    public static let builtIn = PolicyFile(codecs: [
        NativeXMLFileCodec(),
        WindowsFileCodec(format: .reg, fileExtensions: ["reg"]),
        WindowsFileCodec(format: .ldif, fileExtensions: ["ldif", "ldf"]),
        WindowsFileCodec(format: .dsml, fileExtensions: ["dsml"]),
    ])

    /// One codec per format, in the order the help lists them.
    public private(set) var codecs: [any PolicyFileCodec]

    public init(codecs: [any PolicyFileCodec]) {
        self.codecs = []
        for codec in codecs { self = adding(codec) }
    }

    /// This table with `codec` added (replacing one of the same format).
    public func adding(_ codec: any PolicyFileCodec) -> PolicyFile {
        var copy = self
        copy.codecs.removeAll { $0.format == codec.format }
        copy.codecs.append(codec)
        return copy
    }

    /// The formats of the table.
    public var formats: [PolicyFileFormat] { codecs.map(\.format) }

    /// The format called `name` (any letter case), if the table has it.
    public func format(named name: String) -> PolicyFileFormat? {
        formats.first { $0 == PolicyFileFormat(rawValue: name) }
    }

    /// The format named by `path`'s extension (any letter case), if any.
    public func format(forPath path: String) -> PolicyFileFormat? {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        let fileExtension = name[name.index(after: dot)...].lowercased()
        return codecs.first { $0.fileExtensions.contains(fileExtension) }?.format
    }

    /// Guesses the format from the first bytes of the content; `nil` when nothing fits.
    public func format(sniffing bytes: [UInt8]) -> PolicyFileFormat? {
        var start = bytes.startIndex
        // A UTF-8 byte order mark and leading white space say nothing about the format.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start += 3 }
        while start < bytes.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[start]) { start += 1 }
        guard start < bytes.endIndex else { return nil }
        if let windows = WindowsFileSniffer.format(bytes) { return windows }
        return bytes[start] == UInt8(ascii: "<") ? .xml : nil
    }

    /// Reads a store.
    /// - Parameters:
    ///   - path: the file, or `-` for standard input.
    ///   - format: the format to use; `nil` to decide by extension, then by content.
    ///   - options: Windows formats' choices (registry store, base DN) and where to report notes.
    /// - Throws: ``PolicyFormatError`` when the file cannot be read, its format cannot be told, or
    ///   the reader rejects it.
    public func read(
        path: String,
        format: PolicyFileFormat? = nil,
        options: PolicyFileOptions = PolicyFileOptions()
    ) throws(PolicyFormatError) -> PolicyStore {
        try readDetectingFormat(path: path, format: format, options: options).store
    }

    /// Reads a store like ``read(path:format:options:)`` and tells which format it was read as (so
    /// that `convert IN -` can write the same format back).
    public func readDetectingFormat(
        path: String,
        format: PolicyFileFormat? = nil,
        options: PolicyFileOptions = PolicyFileOptions()
    ) throws(PolicyFormatError) -> (store: PolicyStore, format: PolicyFileFormat) {
        let file = path == "-" ? "<stdin>" : path
        if format == nil { try WindowsFileSniffer.refuseConsoleExport(path: path, file: file) }
        let bytes = try PolicyFileIO.read(path: path, displayName: file, limit: Self.maximumSize)
        guard
            let chosen = format ?? WindowsFileSniffer.refine(self.format(forPath: path), bytes)
                ?? self.format(sniffing: bytes)
        else {
            throw PolicyFormatError(file: file, message: "cannot tell the file's format; name it (\(formatList))")
        }
        return (try decode(bytes, file: file, format: chosen, options: options), chosen)
    }

    /// Parses bytes already in memory.
    public func decode(
        _ bytes: [UInt8],
        file: String,
        format: PolicyFileFormat,
        options: PolicyFileOptions = PolicyFileOptions()
    ) throws(PolicyFormatError)
        -> PolicyStore
    {
        try codec(format, file: file).decode(bytes, file: file, options: options)
    }

    /// Serializes a store.
    public func encode(
        _ store: PolicyStore,
        format: PolicyFileFormat,
        file: String,
        options: PolicyFileOptions = PolicyFileOptions()
    ) throws(PolicyFormatError)
        -> [UInt8]
    {
        try codec(format, file: file).encode(store, file: file, options: options)
    }

    /// Writes a store durably: a temporary file beside the target, fsync, a rename and an fsync of the
    /// directory, so the target is never half written, not even after a crash.
    /// - Parameters:
    ///   - path: the file, or `-` for standard output.
    ///   - format: the format to use; `nil` to decide by the extension.
    public func write(
        _ store: PolicyStore,
        to path: String,
        format: PolicyFileFormat? = nil,
        options: PolicyFileOptions = PolicyFileOptions()
    ) throws(PolicyFormatError) {
        let file = path == "-" ? "<stdout>" : path
        guard let chosen = format ?? self.format(forPath: path) else {
            throw PolicyFormatError(
                file: file,
                message: "cannot tell the format from the file name; name it (\(formatList))"
            )
        }
        let bytes = try encode(store, format: chosen, file: file, options: options)
        if path == "-" {
            try PolicyFileIO.writeStandardOutput(bytes, displayName: file)
        } else {
            try PolicyFileIO.replace(path: path, with: bytes)
        }
    }

    private func codec(_ format: PolicyFileFormat, file: String) throws(PolicyFormatError) -> any PolicyFileCodec {
        guard let codec = codecs.first(where: { $0.format == format }) else {
            throw PolicyFormatError(file: file, message: "the \(format) format is not known here (\(formatList))")
        }
        return codec
    }

    private var formatList: String {
        formats.map(\.rawValue).joined(separator: ", ")
    }
}
