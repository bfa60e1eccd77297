// A helper for ProvidersTests' crash-safety test: replaces a store file with two alternating versions
// through `StoreFile.save` until it is killed. The test SIGKILLs it at random moments and checks that
// the file always holds one whole version.
import PolicyFormats
import PolicyModel
import Providers

#if canImport(Glibc)
import Glibc
#endif

/// The store as plain text: one `policy=<name>` line, padded so that a write takes a while.
struct PaddedTextCodec: PolicyStoreCodec {
    func decode(_ bytes: [UInt8], file: String) throws(PolicyFormatError) -> PolicyStore { PolicyStore() }

    func encode(_ store: PolicyStore) -> [UInt8] {
        let name = store.policies.first?.name ?? ""
        return Array("policy=\(name)\n".utf8)
            + [UInt8](repeating: UInt8(ascii: name.first == "A" ? "a" : "b"), count: 256 * 1024)
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    print("usage: ProvidersStoreWriter STORE-FILE")
    exit(2)
}
let file = StoreFile(path: arguments[1], codec: PaddedTextCodec())
// Real GUIDs: every save checks that the new store would load, and the zero GUID is no object's id.
let versions = ["A", "B"].map { name in
    PolicyStore(policies: [
        IPsecPolicy(
            id: IPsecGUID("{00000000-0000-4000-8000-00000000000a}")!,
            name: name,
            mainMode: MainModeSettings(id: IPsecGUID("{00000000-0000-4000-8000-00000000000b}")!)
        )
    ])
}
// The first whole write, then a marker: the test starts its random delay only once this process
// is past its start-up, so that the kills land among the writes even on a loaded machine.
try file.save(versions[1])
let marker = open(arguments[1] + ".started", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
close(marker)
var round = 0
while true {
    try file.save(versions[round % 2])
    round += 1
}
