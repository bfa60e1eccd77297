import IPsecSystem
public import PolicyFormats
public import PolicyModel

/// Reads directory snapshots with PolicyFormats' readers: DSMLv2 when the file starts with `<`, LDIF
/// otherwise.
public struct FormatsSnapshotReader: DirectorySnapshotReader {
    /// The largest snapshot read: an export of a large domain's policy container, with room to spare.
    public static let maximumSize = 256 << 20

    public init() {}

    public func read(path: String) throws(PolicyFormatError) -> DirectoryTree? {
        let bytes: [UInt8]?
        do {
            bytes = try FileSystem.readIfPresent(path, limit: Self.maximumSize)
        } catch {
            throw PolicyFormatError(file: path, message: error.description)
        }
        guard let bytes else { return nil }
        let isXML = bytes.first { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) } == UInt8(ascii: "<")
        let entries = isXML ? try DSML.entries(bytes, file: path) : try LDIF.entries(bytes, file: path)
        return DirectoryTree(entries: entries.map(DirectoryObject.init), sourceEntries: entries, file: path)
    }
}

/// Decodes an assigned policy with PolicyFormats' directory reader (the `ipsecData` blobs and the
/// references between the five object classes).
public struct FormatsPolicyDecoder: DirectoryPolicyDecoder {
    public init() {}

    public func decodePolicy(at policyDN: String, in tree: DirectoryTree) throws(PolicyFormatError) -> PolicyStore {
        let imported = try DirectoryPolicy.read(tree.sourceEntries, file: tree.file)
        guard let rdn = DistinguishedName(policyDN)?.rdns.first?.value, let name = WindowsObjectName(rdn),
            name.objectClass == .policy
        else {
            throw PolicyFormatError(file: tree.file, object: policyDN, message: "not an ipsecPolicy{GUID} name")
        }
        guard let store = StoreEditing.extracting(name.id, from: imported.store) else {
            throw PolicyFormatError(file: tree.file, object: policyDN, message: "the policy is not in the snapshot")
        }
        return store
    }
}
