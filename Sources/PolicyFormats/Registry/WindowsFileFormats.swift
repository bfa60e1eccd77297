public import PolicyModel

/// Choices for the Windows formats when ``PolicyFile`` reads or writes them.
public struct PolicyFileOptions: Sendable {
    /// `.reg`: the store to read (required when a file holds several) or to write (default Local).
    public var registryStore: RegistryStoreKind?
    /// LDIF/DSML output: the domain (`DC=example,DC=com`) or the IP Security container itself
    /// (`CN=IP Security,CN=System,DC=example,DC=com`) under which to place the objects.
    public var baseDN: String?
    /// Receives one line per note about what was read besides the store (service settings, the Group
    /// Policy assignment, stores that were not chosen).
    public var report: (@Sendable (String) -> Void)?

    public init(
        registryStore: RegistryStoreKind? = nil,
        baseDN: String? = nil,
        report: (@Sendable (String) -> Void)? = nil
    ) {
        self.registryStore = registryStore
        self.baseDN = baseDN
        self.report = report
    }
}

/// The entry points ``PolicyFile`` uses for `.reg`, LDIF and DSML files.
public enum WindowsFileFormats {
    /// Reads a whole file of one Windows format into one store; all or nothing.
    public static func decode(
        _ bytes: [UInt8],
        file: String,
        format: PolicyFileFormat,
        options: PolicyFileOptions = PolicyFileOptions()
    ) throws(PolicyFormatError) -> PolicyStore {
        switch format {
        case .reg:
            let result = try RegistryExport.read(bytes, file: file)
            let kind: RegistryStoreKind
            if let chosen = options.registryStore {
                kind = chosen
            } else if result.stores.count == 1, let only = result.stores.keys.first {
                kind = only
            } else if result.stores.isEmpty {
                kind = .local
            } else {
                let names = RegistryStoreKind.allCases.filter { result.stores[$0] != nil }.map(\.rawValue)
                throw PolicyFormatError(
                    file: file,
                    message: "the file holds the \(names.joined(separator: ", ")) stores; choose one (--registry-store)"
                )
            }
            for line in result.report { options.report?("\(file): \(line)") }
            for other in RegistryStoreKind.allCases where other != kind && result.stores[other] != nil {
                options.report?("\(file): the \(other.rawValue) store in the file was not read")
            }
            return result.stores[kind] ?? PolicyStore()
        case .ldif, .dsml:
            let entries = format == .ldif ? try LDIF.entries(bytes, file: file) : try DSML.entries(bytes, file: file)
            let result = try DirectoryPolicy.read(entries, file: file)
            if let note = result.dataTypeNote { options.report?("\(file): \(note)") }
            for assignment in result.groupPolicy.assignments {
                options.report?(
                    "\(file): GPO \(assignment.gpoID.braced.uppercased()) assigns \(assignment.policyDN) (the directory provider decides which GPO applies)"
                )
            }
            return result.store
        default:
            throw PolicyFormatError(file: file, message: "not a Windows format")
        }
    }

    /// Writes a store in one Windows format.
    /// - Throws: ``PolicyFormatError`` when LDIF/DSML output has no base DN, or the store cannot be
    ///   expressed in Windows data.
    public static func encode(
        _ store: PolicyStore,
        file: String,
        format: PolicyFileFormat,
        options: PolicyFileOptions = PolicyFileOptions()
    ) throws(PolicyFormatError) -> [UInt8] {
        switch format {
        case .reg:
            return try RegistryExport.write(store, kind: options.registryStore ?? .local, file: file)
        case .ldif, .dsml:
            guard let base = options.baseDN, let dn = DistinguishedName(base) else {
                throw PolicyFormatError(
                    file: file,
                    message:
                        "a directory dump needs the domain it belongs to: give --base-dn (e.g. DC=example,DC=com)"
                )
            }
            let first = dn.rdns.first.map { "\($0.type.lowercased())=\($0.value.lowercased())" }
            let container =
                first == "cn=ip security" ? dn.description : DirectoryPolicy.ipSecurityContainer(domain: dn.description)
            let entries = try DirectoryPolicy.entries(store, container: container, file: file)
            if store.assignedPolicyID != nil {
                options.report?("\(file): the assigned policy is not recorded: in a directory, GPOs assign policies")
            }
            return format == .ldif ? LDIF.write(entries) : DSML.write(entries)
        default:
            throw PolicyFormatError(file: file, message: "not a Windows format")
        }
    }
}

/// Recognises Windows files by content, and refuses the console's `.ipsec` export.
enum WindowsFileSniffer {
    /// The format the content shows, for the Windows formats only.
    static func format(_ bytes: [UInt8]) -> PolicyFileFormat? {
        let head = Array(bytes.prefix(4096))
        if head.starts(with: [0xFF, 0xFE]) {
            // UTF-16LE: regedit 5.00 or `ldifde -u`.
            return textFormat(String(decoding: UTF16LE.units(head.dropFirst(2)), as: UTF16.self))
        }
        return textFormat(String(decoding: head, as: UTF8.self))
    }

    private static func textFormat(_ text: String) -> PolicyFileFormat? {
        let trimmed = text.drop { $0 == "\u{FEFF}" || $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        if trimmed.hasPrefix(RegFile.header5) || trimmed.hasPrefix(RegFile.header4) { return .reg }
        if trimmed.hasPrefix("<") { return text.contains(DSML.namespace) ? .dsml : nil }
        let lower = trimmed.lowercased()
        if lower.hasPrefix("version: 1") || lower.hasPrefix("dn:") || lower.hasPrefix("dn::") { return .ldif }
        if lower.hasPrefix("#"), lower.contains("\ndn:") || lower.contains("\ndn::") { return .ldif }
        return nil
    }

    /// An `.xml` file whose content is DSML is read as DSML.
    static func refine(_ format: PolicyFileFormat?, _ bytes: [UInt8]) -> PolicyFileFormat? {
        guard format == .xml, self.format(bytes) == .dsml else { return format }
        return .dsml
    }

    /// The console's `.ipsec` export has no published format and no known sample: refuse it.
    static func refuseConsoleExport(path: String, file: String) throws(PolicyFormatError) {
        guard path.lowercased().hasSuffix(".ipsec") else { return }
        throw PolicyFormatError(
            file: file,
            message:
                "the IP Security Policy console's .ipsec export format is not published and is not read; on the Windows machine run `reg export HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\IPSec ipsec.reg` and convert ipsec.reg instead"
        )
    }
}
