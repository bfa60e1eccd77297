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

    /// `NativePolicyXML.read` (schema-validated), then `PolicyStore.validate()`, as for imports.
    public static let native = PluginDocumentValidator { bytes, source in
        let store = try NativePolicyXML.read(bytes, file: source)
        let problems = store.validate()
        guard problems.isEmpty else { throw PluginValidationError(source: source, problems: problems) }
        return store
    }
}

/// A document that parsed but failed the model's checks (dangling references, bad masks, ...).
public struct PluginValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var source: String
    public var problems: [ValidationProblem]

    public var description: String {
        let shown = problems.prefix(3).map(\.description).joined(separator: "; ")
        let more = problems.count > 3 ? " (and \(problems.count - 3) more)" : ""
        return "\(source): \(shown)\(more)"
    }
}
