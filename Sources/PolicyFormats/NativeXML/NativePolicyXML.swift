public import PolicyModel

/// The native policy XML format (`policies-xml/ipsec-policy.xsd`, docs/xml-format.md): one document
/// holds a whole store.
public enum NativePolicyXML {
    /// The format's XML namespace.
    public static let namespace = "urn:ipsecsvc:policy:1"

    /// How much input a read accepts. The defaults suit any real policy store; raise them for tests
    /// or unusual stores.
    public struct Limits: Hashable, Sendable {
        /// Largest input accepted, checked before parsing starts (default 64 MiB).
        public var maxBytes: Int
        /// Deepest element nesting accepted; the format itself needs 5 (default 16).
        public var maxDepth: Int
        /// Most filters in all filter lists together once `<include>`s are expanded (default 2 000 000).
        public var maxFilters: Int

        public init(maxBytes: Int = 64 << 20, maxDepth: Int = 16, maxFilters: Int = 2_000_000) {
            self.maxBytes = maxBytes
            self.maxDepth = maxDepth
            self.maxFilters = maxFilters
        }

        public static let `default` = Limits()
    }

    /// Reads and schema-validates a document. Never touches the network or other files: a DOCTYPE
    /// (and with it every DTD and entity declaration) is refused before parsing.
    /// - Parameters:
    ///   - bytes: the document, UTF-8.
    ///   - file: the name used in error messages (a path, or `<stdin>`).
    ///   - limits: input limits; the size is checked before anything else.
    /// - Throws: ``PolicyFormatError`` naming `file:line:column` and the element or attribute.
    public static func read(
        _ bytes: [UInt8],
        file: String,
        limits: Limits = .default
    ) throws(PolicyFormatError) -> PolicyStore {
        guard bytes.count <= limits.maxBytes else { throw tooLarge(bytes.count, file: file, limits: limits) }
        guard !bytes.isEmpty else { throw PolicyFormatError(file: file, message: "the file is empty") }
        let result: Result<PolicyStore, PolicyFormatError> = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(PolicyFormatError) in try read(buffer, file: file, limits: limits) }
        }
        return try result.get()
    }

    /// Writes a store in the canonical form: the same model gives the same bytes, and a file the
    /// writer produced reads back and writes out byte for byte.
    public static func write(_ store: PolicyStore) -> [UInt8] {
        NativeXMLWriter.write(store)
    }

    /// The schema every document is validated against, as embedded in the binary.
    public static var schema: String { NativePolicyXMLSchema.text }

    static func tooLarge(_ size: Int, file: String, limits: Limits) -> PolicyFormatError {
        PolicyFormatError(
            file: file,
            message: "the file is \(size) bytes, larger than the limit of \(limits.maxBytes) bytes; not parsed"
        )
    }

    private static func read(
        _ buffer: UnsafeBufferPointer<UInt8>,
        file: String,
        limits: Limits
    ) throws(PolicyFormatError) -> PolicyStore {
        let source = NativeXMLSource(file: file, bytes: buffer)
        switch NativeXMLProlog.check(buffer) {
        case .documentType(let line, let column):
            throw source.error(
                line: line,
                column: column,
                "a DOCTYPE is not allowed: the format uses no DTD, and entities are refused for safety"
            )
        case .notUTF8(let encoding):
            throw source.error(line: 1, column: 1, "the document is not UTF-8 (\(encoding)); the format requires UTF-8")
        case nil:
            break
        }
        let schema: LibXMLSchema
        switch compiledSchema {
        case .success(let compiled): schema = compiled
        case .failure(let failure):
            throw PolicyFormatError(file: file, message: "internal error: the embedded schema: \(failure.message)")
        }
        guard let parser = LibXMLSAXParser(buffer: buffer, schema: schema) else {
            throw PolicyFormatError(file: file, message: "cannot start the XML parser (out of memory?)")
        }
        return try NativeXMLDecoder(source: source, parser: parser, limits: limits).decode()
    }

    private static let compiledSchema = LibXMLSchema.compile(NativePolicyXMLSchema.text)
}
