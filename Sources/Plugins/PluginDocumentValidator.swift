import PolicyFormats
public import PolicyModel

/// Turns a plugin's document into a policy store, or says why it cannot be used.
///
/// The standard validator treats a plugin's document exactly like `ipsecsvc policy import` treats a
/// file: the native XML reader with its schema, then the model's consistency checks.
public struct PluginDocumentValidator: Sendable {
    /// Parses and checks `bytes`; `source` names the document in messages (`plugin:cmdb`).
    public var validate: @Sendable (_ bytes: [UInt8], _ source: String) throws -> PolicyStore

    public init(validate: @escaping @Sendable (_ bytes: [UInt8], _ source: String) throws -> PolicyStore) {
        self.validate = validate
    }

    /// `NativePolicyXML.read` (schema-validated), as for imports.
    public static let native = PluginDocumentValidator { bytes, source in
        try NativePolicyXML.read(bytes, file: source)
    }
}
