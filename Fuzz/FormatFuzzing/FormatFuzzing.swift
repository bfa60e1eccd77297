import PolicyFormats
import PolicyModel

/// The parsers under fuzzing: the `ipsecData` blob decoder, the `.reg` reader, the LDIF reader, netsh
/// scripts, the driver's packet entry, the control protocol's request decoder and the driver's table
/// reader.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `netsh -f` scripts through the whole shell, and the driver's IPv4 path with tables from the input.
    case netshShell = "netsh-shell"
    case ipv4

    case blob
    case reg
    case ldif
    case netsh
    case packet
    case control
    case wire
}

/// One fuzz input run through a parser, with round-trip oracles: whatever a reader accepts must write
/// and read back to the same value. A broken oracle stops the process (`preconditionFailure`), which
/// libFuzzer and the mutation loop report as a crash; an error thrown by a reader is the normal outcome
/// for a bad input.
public enum FormatFuzzing {
    /// Runs `bytes` through `target`; returns whether the reader accepted the input.
    @discardableResult
    public static func run(_ target: FuzzTarget, _ bytes: [UInt8]) -> Bool {
        switch target {
        case .netshShell: NetshShellFuzzing.run(bytes)
        case .ipv4: IPv4Fuzzing.run(bytes)

        case .blob: blob(bytes)
        case .reg: registry(bytes)
        case .ldif: ldif(bytes)
        case .netsh: NetshFuzzing.run(bytes)
        case .packet: PacketFuzzing.run(bytes)
        case .control: ControlFuzzing.run(bytes)
        case .wire: WireFuzzing.run(bytes)
        }
    }

    static let context = BlobContext(file: "<fuzz>", object: "<fuzz>")

    private static func blob(_ bytes: [UInt8]) -> Bool {
        var accepted = false
        if let interval = try? IPsecData.decodePolicy(bytes, context: context) {
            check(
                try? IPsecData.decodePolicy(IPsecData.encodePolicy(pollingIntervalSeconds: interval), context: context)
                    == interval,
                "policy"
            )
            accepted = true
        }
        if let settings = try? IPsecData.decodeISAKMP(bytes, id: .zero, context: context) {
            check(
                try? IPsecData.decodeISAKMP(IPsecData.encodeISAKMP(settings), id: .zero, context: context) == settings,
                "isakmp"
            )
            accepted = true
        }
        if let data = try? IPsecData.decodeNegotiationPolicy(bytes, context: context) {
            let again = try? IPsecData.decodeNegotiationPolicy(
                IPsecData.encodeNegotiationPolicy(data),
                context: context
            )
            check(again == data, "negotiation policy")
            accepted = true
        }
        if let data = try? IPsecData.decodeNFA(bytes, context: context) {
            check(try? IPsecData.decodeNFA(IPsecData.encodeNFA(data), context: context) == data, "nfa")
            accepted = true
        }
        if let filters = try? IPsecData.decodeFilter(bytes, context: context) {
            let encoded = try? IPsecData.encodeFilter(filters, context: context)
            check(encoded.flatMap { try? IPsecData.decodeFilter($0, context: context) } == filters, "filter")
            accepted = true
        }
        return accepted
    }

    private static func registry(_ bytes: [UInt8]) -> Bool {
        guard let result = try? RegistryExport.read(bytes, file: "<fuzz>") else { return false }
        for (kind, store) in result.stores {
            let written = try? RegistryExport.write(store, kind: kind, serviceSettings: result.serviceSettings)
            let again = written.flatMap { try? RegistryExport.read($0, file: "<again>") }
            check(again?.stores[kind] == store, "registry store \(kind)")
            check(again?.serviceSettings == result.serviceSettings, "registry service settings")
        }
        return true
    }

    private static func ldif(_ bytes: [UInt8]) -> Bool {
        guard let entries = try? LDIF.entries(bytes, file: "<fuzz>") else { return false }
        let again = try? LDIF.entries(LDIF.write(entries), file: "<again>")
        check(again.map(shape) == shape(entries), "LDIF entries")
        if let imported = try? DirectoryPolicy.read(entries, file: "<fuzz>") {
            let container = "CN=IP Security,CN=System,DC=fuzz"
            let written = try? DirectoryPolicy.entries(imported.store, container: container)
            let reread = written.flatMap {
                try? DirectoryPolicy.read(LDIF.entries(LDIF.write($0), file: "<again>"), file: "<again>")
            }
            check(reread?.store == imported.store, "directory store")
        }
        return true
    }

    /// What an entry means, without line numbers and with values as bytes (text that LDIF must
    /// base64-encode comes back as binary).
    private static func shape(_ entries: [DirectoryEntry]) -> [String] {
        entries.map { entry in
            ([entry.dn] + entry.attributes.map { "\($0.name.lowercased())=\($0.values.map(\.bytes))" }).joined(
                separator: "|"
            )
        }
    }

    private static func check(_ condition: Bool?, _ what: String) {
        if condition != true { preconditionFailure("round trip changed the \(what)") }
    }
}
