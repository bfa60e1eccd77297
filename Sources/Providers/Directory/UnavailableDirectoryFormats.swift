public import PolicyFormats
public import PolicyModel

/// Stands in for the LDIF/DSML readers and the blob decoder where none is configured: every snapshot reads
/// as unreadable, so the directory counts as unreachable and its cache applies.
public struct UnavailableDirectoryFormats: DirectorySnapshotReader, DirectoryPolicyDecoder {
    public init() {}

    public func read(path: String) throws(PolicyFormatError) -> DirectoryTree? {
        throw PolicyFormatError(file: path, message: "no directory snapshot reader is available")
    }

    public func decodePolicy(at policyDN: String, in tree: DirectoryTree) throws(PolicyFormatError) -> PolicyStore {
        throw PolicyFormatError(file: policyDN, message: "no directory policy decoder is available")
    }
}
