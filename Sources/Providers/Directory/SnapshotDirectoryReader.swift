import IPsecSystem
public import PolicyFormats

/// Reads a directory snapshot file (DSMLv2 or LDIF, `directory = snapshot`): for offline use, tests,
/// migration and support cases (`ipsecsvc policy export --from-directory` writes one). Every call reads the
/// file again; the computer's place is the configured `computer_dn`.
public struct SnapshotDirectoryReader: DirectoryReader {
    public var path: String
    public var computerDN: String?
    public var site: String?
    public var snapshotReader: any DirectorySnapshotReader

    public init(
        path: String,
        computerDN: String?,
        site: String?,
        snapshotReader: any DirectorySnapshotReader = FormatsSnapshotReader()
    ) {
        self.path = path
        self.computerDN = computerDN
        self.site = site
        self.snapshotReader = snapshotReader
    }

    public var sourceDescription: String { "snapshot \(path)" }

    public var lastServer: String? { path }

    public func read(
        assignedPolicy: @escaping @Sendable (DirectoryRead) -> String?
    ) async throws(DirectoryReadError)
        -> DirectoryRead
    {
        guard let computerDN else {
            throw DirectoryReadError(.invalid, server: path, "computer_dn is required with a directory snapshot")
        }
        return DirectoryRead(entries: try await entries(), computerDN: computerDN, site: site, server: path)
    }

    public func readPolicyObjects(_ policyDN: String) async throws(DirectoryReadError) -> [DirectoryEntry] {
        let entries = try await entries()
        let tree = DirectoryRead(entries: entries, computerDN: "", site: nil, server: path).tree
        let closure = Set(
            IPsecObjectReferences.closure(of: policyDN) { tree.sourceEntry($0) }.map(DN.normalize)
        )
        return entries.filter { closure.contains(DN.normalize($0.dn)) }
    }

    public func changeStamps(of dns: [String]) async throws(DirectoryReadError) -> [String: String] {
        let tree = DirectoryRead(entries: try await entries(), computerDN: "", site: nil, server: path).tree
        var stamps: [String: String] = [:]
        for dn in dns {
            if let entry = tree.entry(dn) { stamps[DN.normalize(dn)] = entry.value("whenChanged") ?? "" }
        }
        return stamps
    }

    private func entries() async throws(DirectoryReadError) -> [DirectoryEntry] {
        let reader = snapshotReader
        let path = self.path
        let result: Result<DirectoryTree?, PolicyFormatError> = await BlockingPool.shared.run {
            do throws(PolicyFormatError) {
                return .success(try reader.read(path: path))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(.some(let tree)):
            // Trees built in code (tests) have no reader entries: their text attributes stand in.
            return tree.sourceEntries.isEmpty ? tree.entries.map(DirectoryEntry.init) : tree.sourceEntries
        case .success(.none):
            throw DirectoryReadError(.unavailable, server: path, "the directory snapshot \(path) does not exist")
        case .failure(let error):
            throw DirectoryReadError(
                .unavailable,
                server: path,
                "the directory snapshot cannot be read: \(error.description)"
            )
        }
    }
}
