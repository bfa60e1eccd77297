public import PolicyFormats
public import PolicyModel

/// A netsh script read as a policy file: `ipsecsvc policy import FILE --format netsh` and any other
/// reader that wants the store a script builds.
///
/// The script runs on an empty in-memory store, as one transaction, with no service and no files;
/// the store it built is the result. Dynamic commands and `exportpolicy`/`importpolicy` have no place
/// in a policy file and are refused.
public enum NetshScriptReader {
    /// The store `bytes` (a netsh script) builds.
    /// - Throws: ``PolicyFormatError`` with the file and the line of the failing command.
    public static func read(
        _ bytes: [UInt8],
        file: String,
        resolver: any NetshNameResolver = NoNameResolver()
    ) throws(PolicyFormatError) -> PolicyStore {
        let stores = InMemoryNetshStoreBackend()
        let shell = NetshShell(
            staticSession: NetshStaticSession(backend: stores, environment: NetshEnvironment(resolver: resolver)),
            dynamicBackend: RefusingDynamicBackend()
        )
        do {
            _ = try shell.runScript(String(decoding: bytes, as: UTF8.self), source: file)
            try shell.finish()
        } catch {
            throw PolicyFormatError(file: file, line: error.line, message: error.message)
        }
        let edited = stores.stores.filter { stores.saveCount[$0.key, default: 0] > 0 }
        guard edited.count <= 1 else {
            throw PolicyFormatError(
                file: file,
                message: "the script changes both the local and the persistent store; run it with 'netsh -f' instead"
            )
        }
        return edited.first?.value ?? PolicyStore()
    }
}

/// Dynamic commands in a policy file: refused, they act on a running service, not on a store.
private final class RefusingDynamicBackend: NetshDynamicBackend {
    func run(_ commands: [NetshDynamicCommand], dryRun: Bool) throws(NetshDynamicFailure) -> [String] {
        throw NetshDynamicFailure(
            index: 0,
            message: "dynamic commands change the running service, not a policy store; run the script with 'netsh -f'"
        )
    }
}

extension PolicyFileFormat {
    /// A `netsh ipsec static` script: read by running it on an empty store, written as `netsh ipsec dump`.
    public static let netsh = PolicyFileFormat(rawValue: "netsh")
}

/// netsh scripts as a ``PolicyFile`` format: read with ``NetshScriptReader``, written as a dump.
public struct NetshScriptCodec: PolicyFileCodec {
    public init() {}

    public var format: PolicyFileFormat { .netsh }
    public var fileExtensions: [String] { ["netsh"] }

    public func decode(
        _ bytes: [UInt8],
        file: String,
        options: PolicyFileOptions
    ) throws(PolicyFormatError) -> PolicyStore {
        try NetshScriptReader.read(bytes, file: file)
    }

    public func encode(
        _ store: PolicyStore,
        file: String,
        options: PolicyFileOptions
    ) throws(PolicyFormatError) -> [UInt8] {
        Array(NetshDump.script(for: store, location: .local).utf8)
    }
}
