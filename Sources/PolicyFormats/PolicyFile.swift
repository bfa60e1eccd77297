public import PolicyModel

/// Reads and writes whole stores as files, choosing the format by an explicit override, else the
/// file name's extension, else the content (reading only).
///
/// The path `-` means standard input or standard output. Errors name the file as the user gave it.
public enum PolicyFile {
    /// Bigger inputs are refused rather than read into memory: real policy files are kilobytes.
    public static let maximumSize = 64 << 20

    /// Reads a store.
    /// - Parameters:
    ///   - path: the file, or `-` for standard input.
    ///   - format: the format to use; `nil` to decide by extension, then by content.
    /// - Throws: ``PolicyFormatError`` when the file cannot be read, its format cannot be told, or
    ///   the reader rejects it.
    ///   - options: Windows formats' choices (registry store, base DN) and where to report notes.
    public static func read(
        path: String,
        format: PolicyFileFormat? = nil,
        options: PolicyFileOptions = PolicyFileOptions()
    ) throws(PolicyFormatError) -> PolicyStore {
        try readDetectingFormat(path: path, format: format, options: options).store
    }

    /// Reads a store like ``read(path:format:options:)`` and tells which format it was read as (so
    /// that `convert IN -` can write the same format back).
    public static func readDetectingFormat(
        path: String,
        format: PolicyFileFormat? = nil,
        options: PolicyFileOptions = PolicyFileOptions()
    ) throws(PolicyFormatError) -> (store: PolicyStore, format: PolicyFileFormat) {
        let file = path == "-" ? "<stdin>" : path
        if format == nil { try WindowsFileSniffer.refuseConsoleExport(path: path, file: file) }
        let bytes = try PolicyFileIO.read(path: path, displayName: file, limit: maximumSize)
        guard
            let chosen = format ?? WindowsFileSniffer.refine(PolicyFileFormat(path: path), bytes)
                ?? PolicyFileFormat(sniffing: bytes)
        else {
            throw PolicyFormatError(file: file, message: "cannot tell the file's format; name it (\(formatList))")
        }
        return (try decode(bytes, file: file, format: chosen, options: options), chosen)
    }

    /// Parses bytes already in memory.
    public static func decode(
        _ bytes: [UInt8],
        file: String,
        format: PolicyFileFormat,
        options: PolicyFileOptions = PolicyFileOptions()
    ) throws(PolicyFormatError)
        -> PolicyStore
    {
        switch format {
        case .xml: try NativePolicyXML.read(bytes, file: file)
        case .reg, .ldif, .dsml: try WindowsFileFormats.decode(bytes, file: file, format: format, options: options)
        case .netsh: try NetshScriptReader.read(bytes, file: file)
        }
    }

    /// Serializes a store.
    public static func encode(
        _ store: PolicyStore,
        format: PolicyFileFormat,
        file: String,
        options: PolicyFileOptions = PolicyFileOptions()
    ) throws(PolicyFormatError)
        -> [UInt8]
    {
        guard format.isWritable else {
            throw PolicyFormatError(file: file, message: "the \(format) format can be read but not written")
        }
        switch format {
        case .xml: return NativePolicyXML.write(store)
        case .reg, .ldif, .dsml:
            return try WindowsFileFormats.encode(store, file: file, format: format, options: options)
        case .netsh: return Array(NetshDump.script(for: store, location: .local).utf8)
        }
    }

    /// Writes a store durably: a temporary file beside the target, fsync, a rename and an fsync of the
    /// directory, so the target is never half written, not even after a crash.
    /// - Parameters:
    ///   - path: the file, or `-` for standard output.
    ///   - format: the format to use; `nil` to decide by the extension.
    public static func write(
        _ store: PolicyStore,
        to path: String,
        format: PolicyFileFormat? = nil,
        options: PolicyFileOptions = PolicyFileOptions()
    ) throws(PolicyFormatError) {
        let file = path == "-" ? "<stdout>" : path
        guard let chosen = format ?? PolicyFileFormat(path: path) else {
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

    private static var formatList: String {
        PolicyFileFormat.allCases.map(\.rawValue).joined(separator: ", ")
    }
}
