public import PolicyModel

/// The policy stores kept in the registry under `HKLM\SOFTWARE\Policies\Microsoft\Windows\IPSec\Policy`.
///
/// `Local` is confirmed by real data; `Persistent` (Windows Server 2003) and `Cache` (the cached copy
/// of the directory policy) are named by analogy and **unconfirmed** (windows-ipsec.md §2, §9 item 4).
public enum RegistryStoreKind: String, Hashable, Sendable, CaseIterable {
    case local = "Local"
    case persistent = "Persistent"
    case cache = "Cache"

    /// The store's key below HKEY_LOCAL_MACHINE.
    public var keyPath: String { RegistryExport.policyRoot + "\\" + rawValue }
}

/// The directory policy assignment that the Group Policy extension records in `GPTIPSECPolicy`.
public struct RegistryDirectoryAssignment: Hashable, Sendable {
    /// `DSIPSECPolicyPath` with `LDAP://` removed: the DN of the assigned `ipsecPolicy`.
    public var policyDN: String
    public var policyName: String?
    /// The policy GUID from the DN's `CN=ipsecPolicy{GUID}`, when it has that form.
    public var policyID: IPsecGUID?

    public init(policyDN: String, policyName: String?, policyID: IPsecGUID?) {
        self.policyDN = policyDN
        self.policyName = policyName
        self.policyID = policyID
    }
}

/// Service settings under `HKLM\SYSTEM\CurrentControlSet\Services\IPSEC`.
public struct RegistryServiceSettings: Hashable, Sendable {
    /// `NoDefaultExempt` 0–3 (netsh `ipsecexempt`, windows-ipsec.md §4.3).
    public var noDefaultExempt: UInt32?
    /// `OperationMode`, the driver startup mode; the numbers' meaning is **unconfirmed** (§4.4), so the
    /// raw value is kept.
    public var operationMode: UInt32?

    public init(noDefaultExempt: UInt32? = nil, operationMode: UInt32? = nil) {
        self.noDefaultExempt = noDefaultExempt
        self.operationMode = operationMode
    }

    public var isEmpty: Bool { noDefaultExempt == nil && operationMode == nil }
}

/// Everything IPsec-related in a `.reg` file.
public struct RegistryImport: Hashable, Sendable {
    /// The stores whose key appears in the file, each with its `ActivePolicy` as the assigned policy.
    public var stores: [RegistryStoreKind: PolicyStore]
    public var directoryAssignment: RegistryDirectoryAssignment?
    public var serviceSettings: RegistryServiceSettings

    public init(
        stores: [RegistryStoreKind: PolicyStore] = [:],
        directoryAssignment: RegistryDirectoryAssignment? = nil,
        serviceSettings: RegistryServiceSettings = RegistryServiceSettings()
    ) {
        self.stores = stores
        self.directoryAssignment = directoryAssignment
        self.serviceSettings = serviceSettings
    }

    /// One line per imported item that is not a store, for the importer to report.
    public var report: [String] {
        var lines: [String] = []
        if let value = serviceSettings.noDefaultExempt { lines.append("service setting NoDefaultExempt = \(value)") }
        if let value = serviceSettings.operationMode {
            lines.append(
                "service setting OperationMode = \(value) (raw value; its mapping to permit/stateful/block is unconfirmed)"
            )
        }
        if let assignment = directoryAssignment {
            lines.append(
                "directory policy assigned by Group Policy: \(assignment.policyName ?? "(no name)") at \(assignment.policyDN)"
            )
        }
        return lines
    }
}

/// Registry exports (`reg export`, regedit `.reg` files) of the IPsec policy stores.
public enum RegistryExport {
    /// `HKLM\SOFTWARE\Policies\Microsoft\Windows\IPSec\Policy` (Windows writes `IPSEC` in references).
    public static let policyRoot = "SOFTWARE\\Policies\\Microsoft\\Windows\\IPSec\\Policy"
    static let gptKey = "SOFTWARE\\Policies\\Microsoft\\Windows\\IPSec\\GPTIPSECPolicy"
    static let serviceKey = "SYSTEM\\CurrentControlSet\\Services\\IPSEC"
    static let machinePrefixes = ["hkey_local_machine\\", "hklm\\"]

    /// Reads a `.reg` file: the Local, Persistent and Cache stores, `GPTIPSECPolicy` and the IPSEC service
    /// settings. Keys outside these are ignored. All or nothing.
    /// - Throws: ``PolicyFormatError`` naming the registry key, the value, the line, and for blobs the
    ///   field and byte offset.
    public static func read(_ bytes: [UInt8], file: String) throws(PolicyFormatError) -> RegistryImport {
        let keys = try RegFile.keys(bytes, file: file)
        var result = RegistryImport()
        for kind in RegistryStoreKind.allCases {
            if let store = try store(kind, keys: keys, file: file) { result.stores[kind] = store }
        }
        if let key = keys.first(where: { relativePath($0.path) == gptKey.lowercased() }),
            let path = try string(key, "DSIPSECPolicyPath", file: file), !path.isEmpty
        {
            let dn = path.lowercased().hasPrefix("ldap://") ? String(path.dropFirst("ldap://".count)) : path
            result.directoryAssignment = RegistryDirectoryAssignment(
                policyDN: dn,
                policyName: try string(key, "DSIPSECPolicyName", file: file),
                policyID: DistinguishedName(dn)?.rdns.first.flatMap { WindowsObjectName($0.value)?.id }
            )
        }
        if let key = keys.first(where: { isServiceKey($0.path) }) {
            result.serviceSettings.noDefaultExempt = try dword(key, "NoDefaultExempt", file: file)
            result.serviceSettings.operationMode = try dword(key, "OperationMode", file: file)
        }
        return result
    }

    /// The path below HKEY_LOCAL_MACHINE, lower-cased; `nil` for other hives.
    static func relativePath(_ path: String) -> String? {
        let lower = path.lowercased()
        for prefix in machinePrefixes where lower.hasPrefix(prefix) { return String(lower.dropFirst(prefix.count)) }
        return nil
    }

    /// `CurrentControlSet` or a numbered `ControlSetNNN`.
    private static func isServiceKey(_ path: String) -> Bool {
        guard let relative = relativePath(path) else { return false }
        let parts = relative.split(separator: "\\")
        return parts.count == 4 && parts[0] == "system"
            && (parts[1] == "currentcontrolset" || parts[1].hasPrefix("controlset"))
            && parts[2] == "services" && parts[3] == "ipsec"
    }

    private static func store(
        _ kind: RegistryStoreKind,
        keys: [RegistryKey],
        file: String
    ) throws(PolicyFormatError) -> PolicyStore? {
        let base = kind.keyPath.lowercased()
        let storeKey = keys.first { relativePath($0.path) == base }
        let objectKeys = keys.filter { key in
            guard let relative = relativePath(key.path), relative.hasPrefix(base + "\\") else { return false }
            return !relative.dropFirst(base.count + 1).contains("\\")
        }
        guard storeKey != nil || !objectKeys.isEmpty else { return nil }
        var assembler = StoreAssembler(file: file) { reference in
            reference.split(separator: "\\").last.flatMap { WindowsObjectName($0) }
        }
        for key in objectKeys {
            let keyName = String(key.path.split(separator: "\\").last ?? "")
            guard let name = WindowsObjectName(keyName) else { continue }  // Not an IPsec object key.
            try assembler.add(try storedObject(key, name: name, file: file))
        }
        var assigned: (String, String, Int?)?
        if let storeKey, let active = try string(storeKey, "ActivePolicy", file: file), !active.isEmpty {
            assigned = (active, storeKey.path, storeKey.value("ActivePolicy")?.line)
        }
        return try assembler.assemble(assigned: assigned)
    }

    private static func storedObject(
        _ key: RegistryKey,
        name: WindowsObjectName,
        file: String
    ) throws(PolicyFormatError) -> StoredObject {
        var object = StoredObject(name: name, location: key.path, line: key.line)
        for value in key.values { object.fieldLines[value.name.lowercased()] = value.line }
        if let className = try string(key, "className", file: file),
            IPsecObjectClass(caseInsensitive: className) != name.objectClass
        {
            throw wrong(key, "className", file: file, "className '\(className)' does not match the key name \(name)")
        }
        object.ipsecID = try string(key, "ipsecID", file: file)
        object.ipsecName = try string(key, "ipsecName", file: file)
        object.description = try string(key, "description", file: file)
        object.whenChanged = try dword(key, "whenChanged", file: file).map(Int64.init)
        object.dataType = try dword(key, "ipsecDataType", file: file)
        if let value = key.value("ipsecData") {
            guard case .binary(let bytes) = value.data else {
                throw wrong(key, "ipsecData", file: file, "ipsecData is \(value.data.typeName), expected REG_BINARY")
            }
            object.data = bytes
        }
        for field in [
            ReferenceAttribute.isakmp, ReferenceAttribute.nfa, ReferenceAttribute.negotiationPolicy,
            ReferenceAttribute.filter, ReferenceAttribute.owners,
        ] {
            guard let value = key.value(field) else { continue }
            switch value.data {
            case .string(let text): if !text.isEmpty { object.references[field.lowercased()] = [text] }
            case .multiString(let list): object.references[field.lowercased()] = list.filter { !$0.isEmpty }
            default:
                throw wrong(
                    key,
                    field,
                    file: file,
                    "\(field) is \(value.data.typeName), expected REG_SZ or REG_MULTI_SZ"
                )
            }
        }
        object.negotiationPolicyAction = try string(key, "iPSECNegotiationPolicyAction", file: file)
        object.negotiationPolicyType = try string(key, "iPSECNegotiationPolicyType", file: file)
        return object
    }

    private static func wrong(_ key: RegistryKey, _ name: String, file: String, _ message: String) -> PolicyFormatError
    {
        PolicyFormatError(
            file: file,
            line: key.value(name)?.line ?? key.line,
            object: key.path,
            field: name,
            message: message
        )
    }

    /// A REG_SZ (or REG_EXPAND_SZ) value, `nil` when absent; another type is an error.
    static func string(_ key: RegistryKey, _ name: String, file: String) throws(PolicyFormatError) -> String? {
        guard let value = key.value(name) else { return nil }
        switch value.data {
        case .string(let text), .expandString(let text): return text
        default: throw wrong(key, name, file: file, "\(name) is \(value.data.typeName), expected REG_SZ")
        }
    }

    /// A REG_DWORD value, `nil` when absent; another type is an error.
    static func dword(_ key: RegistryKey, _ name: String, file: String) throws(PolicyFormatError) -> UInt32? {
        guard let value = key.value(name) else { return nil }
        guard case .dword(let number) = value.data else {
            throw wrong(key, name, file: file, "\(name) is \(value.data.typeName), expected REG_DWORD")
        }
        return number
    }
}
