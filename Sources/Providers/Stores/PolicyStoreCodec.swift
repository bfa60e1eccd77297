public import PolicyFormats
public import PolicyModel

/// How a store file is encoded. The stores use the native XML format; tests may swap in another codec
/// to test store mechanics on their own.
public protocol PolicyStoreCodec: Sendable {
    /// Decodes a whole store.
    /// - Throws: ``PolicyFormatError`` naming the file and line.
    func decode(_ bytes: [UInt8], file: String) throws(PolicyFormatError) -> PolicyStore
    /// Encodes a whole store deterministically.
    func encode(_ store: PolicyStore) -> [UInt8]
}

/// The native policy XML format (`NativePolicyXML`): what every store on disk uses.
public struct NativeXMLStoreCodec: PolicyStoreCodec {
    public init() {}

    public func decode(_ bytes: [UInt8], file: String) throws(PolicyFormatError) -> PolicyStore {
        try NativePolicyXML.read(bytes, file: file)
    }

    public func encode(_ store: PolicyStore) -> [UInt8] { NativePolicyXML.write(store) }
}
