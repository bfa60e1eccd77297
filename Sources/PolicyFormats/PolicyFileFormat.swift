public import PolicyModel

/// The name of a file format that whole stores are read from or written to (`xml`, `reg`, ...).
///
/// A name, not a closed list: the formats a program knows are the codecs of its ``PolicyFile`` table
/// (PolicyFormats brings XML and the Windows formats; other modules add theirs, as Netsh adds its
/// scripts).
public struct PolicyFileFormat: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The name on the command line (`--format xml`), lower case.
    public var rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue.lowercased()
    }

    /// The native policy XML (`policies-xml/ipsec-policy.xsd`).
    public static let xml = PolicyFileFormat(rawValue: "xml")
    /// A registry export (`reg export`, regedit `.reg`) of the IPsec policy stores.
    public static let reg = PolicyFileFormat(rawValue: "reg")
    /// An LDIF directory dump (`ldifde -f`, `ldapsearch`) of the IP Security container.
    public static let ldif = PolicyFileFormat(rawValue: "ldif")
    /// A DSMLv2 directory dump of the IP Security container (`.dsml`, or `.xml` with DSML content).
    public static let dsml = PolicyFileFormat(rawValue: "dsml")

    public var description: String { rawValue }
}

/// Reads and writes one file format; a ``PolicyFile`` table holds one per format.
///
/// Called by ``PolicyFile`` on the caller's thread, synchronously; implementations are pure
/// (bytes in, store out) and must not keep state between calls.
public protocol PolicyFileCodec: Sendable {
    var format: PolicyFileFormat { get }
    /// File name extensions (lower case, without the dot) that select this format.
    var fileExtensions: [String] { get }

    /// The store `bytes` hold.
    /// - Throws: ``PolicyFormatError`` naming `file` and the place of the problem.
    func decode(_ bytes: [UInt8], file: String, options: PolicyFileOptions) throws(PolicyFormatError) -> PolicyStore

    /// `store` in this format.
    /// - Throws: ``PolicyFormatError`` when the store cannot be expressed in it.
    func encode(_ store: PolicyStore, file: String, options: PolicyFileOptions) throws(PolicyFormatError) -> [UInt8]
}

/// The native policy XML.
struct NativeXMLFileCodec: PolicyFileCodec {
    var format: PolicyFileFormat { .xml }
    var fileExtensions: [String] { ["xml"] }

    func decode(_ bytes: [UInt8], file: String, options: PolicyFileOptions) throws(PolicyFormatError) -> PolicyStore {
        try NativePolicyXML.read(bytes, file: file)
    }

    func encode(_ store: PolicyStore, file: String, options: PolicyFileOptions) throws(PolicyFormatError) -> [UInt8] {
        NativePolicyXML.write(store)
    }
}

/// `.reg`, LDIF and DSML, through ``WindowsFileFormats``.
struct WindowsFileCodec: PolicyFileCodec {
    var format: PolicyFileFormat
    var fileExtensions: [String]

    func decode(_ bytes: [UInt8], file: String, options: PolicyFileOptions) throws(PolicyFormatError) -> PolicyStore {
        try WindowsFileFormats.decode(bytes, file: file, format: format, options: options)
    }

    func encode(_ store: PolicyStore, file: String, options: PolicyFileOptions) throws(PolicyFormatError) -> [UInt8] {
        try WindowsFileFormats.encode(store, file: file, format: format, options: options)
    }
}
