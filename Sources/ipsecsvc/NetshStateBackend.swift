import Netsh
import PolicyFormats
import PolicyModel
import Providers
import ServiceHost

#if canImport(Glibc)
import Glibc
#endif

/// The static stores of `netsh ipsec static` on the state directory: `local.xml` and
/// `persistent.xml` in native XML, written under the store lock; `location=domain` shows the cached
/// copy of the directory policy (`directory-cache.xml`), read-only.
///
/// With the service running, a saved store is followed by a refresh request, so that a local-store
/// change applies at once; persistent-store changes apply at the next service start, as in Windows.
final class StateDirectoryNetshStoreBackend: NetshStoreBackend {
    let state: StateDirectory
    let client: ControlClient
    /// Whether a local store that does not exist yet starts with Windows' example policies.
    let examples: Bool

    init(stateDirectory: String, socketPath: String, examples: Bool = true) {
        state = StateDirectory(path: stateDirectory)
        client = ControlClient(socketPath: socketPath)
        self.examples = examples
    }

    private func file(_ location: NetshStoreLocation) -> StoreFile {
        switch location {
        case .local: StoreFile(path: state.localStore)
        case .persistent: StoreFile(path: state.persistentStore)
        case .domain: StoreFile(path: state.directoryCache)
        }
    }

    func load(_ location: NetshStoreLocation) throws(NetshError) -> PolicyStore {
        // As on a fresh Windows install, the local store has the example policies even before the
        // service's first start. Failing to write them (no permission) only means an empty store.
        if location == .local, examples { try? StoreOperations.createLocalStoreWithExamplesIfMissing(state: state) }
        switch file(location).load() {
        case .missing: return PolicyStore()
        case .loaded(let store, _): return store
        case .broken(let error): throw NetshError("The \(location.displayName.lowercased()) cannot be read: \(error)")
        }
    }

    func save(_ store: PolicyStore, to location: NetshStoreLocation) throws(NetshError) {
        let target = file(location)
        do {
            // A fresh machine has no state directory yet: withLock creates it, as the service does.
            try state.withLock { () throws(StoreFile.StoreError) in try target.save(store) }
        } catch {
            throw NetshError("The \(location.displayName.lowercased()) was not changed: \(error)")
        }
        // The store is saved either way; a service that is not running applies it when it starts. The
        // refresh answers only once the new effective policy is applied, so the change is in effect
        // when netsh returns; a refresh that fails is said, not swallowed.
        guard location == .local else { return }
        do {
            _ = try client.send(RefreshCommand.self)
        } catch  where error.code != .notRunning {
            standardError(
                "Warning: the local store was saved, but the running service did not apply it: \(error.message)"
            )
        } catch {}
    }

    /// The GPO whose IPsec policy the service last applied, from the directory cache's provenance.
    func gpoAssignment(named name: String?) throws(NetshError) -> NetshGPOAssignment? {
        guard case .policy(let policy) = DirectoryCache(state: state).load() else { return nil }
        let gpo = policy.gpo ?? "<unknown GPO>"
        if let name, !gpo.lowercased().contains(name.lowercased()) { return nil }
        return NetshGPOAssignment(
            gpoName: gpo,
            policyName: policy.policyName,
            policyPath: policy.policyID.map { "ipsecPolicy\($0.braced)" } ?? policy.store ?? "",
            linkedThrough: policy.linkedThrough
        )
    }

    func exportStore(_ store: PolicyStore, to file: String) throws(NetshError) {
        // Native XML unless the extension names another format (`.reg`, `.netsh`, ...).
        let format = PolicyFiles.all.format(forPath: file) ?? .xml
        do {
            try PolicyFiles.all.write(store, to: file, format: format)
        } catch {
            throw NetshError("The policies were not exported: \(error)")
        }
    }

    func importStore(from file: String) throws(NetshError) -> PolicyStore {
        // exportpolicy writes `.ipsec` files in native XML; Windows' own `.ipsec` format is unpublished.
        if file.lowercased().hasSuffix(".ipsec") {
            do {
                return try PolicyFiles.all.read(path: file, format: .xml)
            } catch {
                throw NetshError(
                    "The policies were not imported: \(file) is not an ipsecsvc export (\(error.message)). Windows' .ipsec format is not published; on the Windows computer run 'reg export HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\IPSec ipsec.reg' and import ipsec.reg."
                )
            }
        }
        do {
            return try PolicyFiles.all.read(path: file)
        } catch {
            throw NetshError("The policies were not imported: \(error)")
        }
    }
}
