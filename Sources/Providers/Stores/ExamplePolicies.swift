import IPsecSystem
import PolicyFormats
public import PolicyModel

/// Windows' three example policies — Client (Respond Only), Server (Request Security), Secure Server
/// (Require Security) — with their filter lists (All IP Traffic, All ICMP Traffic) and filter actions
/// (Permit, Request Security (Optional), Require Security), as every fresh Windows install has them in
/// its local store, unassigned.
///
/// Names, descriptions, GUIDs and settings are Windows' own: the default IP Security objects Windows
/// creates in every domain, as Samba provisions them (`policies-xml/README.md`; what still differs is in
/// docs/windows-differences.md). The data is the three files of `policies-xml/`, compiled in.
public enum ExamplePolicies {
    /// The examples as one store, nothing assigned.
    public static let store: PolicyStore = {
        var store = PolicyStore()
        for file in ExamplePoliciesXML.files {
            do {
                store.merge(try NativePolicyXML.read(Array((file.text + "\n").utf8), file: file.name))
            } catch {
                // ExamplePoliciesTests reads every embedded file: this cannot happen in a tested build.
                fatalError("the embedded example policy \(file.name) does not read: \(error)")
            }
        }
        return store
    }()

    /// Creates the local store the first time it is needed, as Windows' setup does: with the examples,
    /// or empty when `examples` is false (`examples = no`, `ipsecsvc run --no-examples`). A local store
    /// file that exists, even an empty one, is left as it is, so examples an administrator deleted stay
    /// deleted. Call it with the state directory's lock held.
    /// - Returns: whether the store was created.
    @discardableResult
    public static func createLocalStoreIfMissing(
        in state: StateDirectory,
        examples: Bool,
        codec: any PolicyStoreCodec = NativeXMLStoreCodec()
    ) throws(StoreFile.StoreError) -> Bool {
        guard !FileSystem.exists(state.localStore) else { return false }
        try StoreFile(path: state.localStore, codec: codec).overwrite(with: examples ? store : PolicyStore())
        return true
    }
}
