public import PolicyModel

/// The native policy XML format (`policies-xml/ipsec-policy.xsd`): one document holds a whole store.
public enum NativePolicyXML {
    /// Reads and schema-validates a document. Never touches the network or other files.
    /// - Throws: ``PolicyFormatError`` naming `file:line:column` and the element or attribute.
    public static func read(_ bytes: [UInt8], file: String) throws(PolicyFormatError) -> PolicyStore {
        throw PolicyFormatError(file: file, message: "native XML reader not implemented yet")
    }

    /// Writes a store deterministically: the same model gives the same bytes.
    public static func write(_ store: PolicyStore) -> [UInt8] {
        []
    }
}
