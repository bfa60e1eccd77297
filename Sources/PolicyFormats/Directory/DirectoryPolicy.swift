public import PolicyModel

/// What a directory dump holds: the IPsec objects of the IP Security container as a store, and the
/// Group Policy objects (links, GPOs, IPsec assignments) that the directory provider resolves.
public struct DirectoryPolicyImport: Hashable, Sendable {
    /// Every policy, filter list and filter action of the dump. No policy is marked assigned: in a
    /// directory, GPOs assign policies (``groupPolicy``).
    public var store: PolicyStore
    public var groupPolicy: DirectoryGroupPolicy
    /// How many IPsec objects carried each `ipsecDataType` value: 256 in what Windows writes, 598 in
    /// Windows' own default objects (``BlobType/defaultObjectsDataType``). Both read alike.
    public var ipsecDataTypes: [UInt32: Int]

    public init(store: PolicyStore, groupPolicy: DirectoryGroupPolicy, ipsecDataTypes: [UInt32: Int] = [:]) {
        self.store = store
        self.groupPolicy = groupPolicy
        self.ipsecDataTypes = ipsecDataTypes
    }

    /// One line saying which `ipsecDataType` values were read, when any object carried 598; `nil` when
    /// all carried 256 (or none).
    public var dataTypeNote: String? {
        let defaults = ipsecDataTypes[BlobType.defaultObjectsDataType] ?? 0
        guard defaults > 0 else { return nil }
        let standard = ipsecDataTypes[BlobType.dataType] ?? 0
        return
            "ipsecDataType 598 on \(defaults) object\(defaults == 1 ? "" : "s") (the value of Windows' default IP Security objects, as Samba provisions them) and 256 on \(standard); both are read alike"
    }
}

/// Converts between directory entries and the model ([MS-GPIPSEC] §2.2.1: objects named
/// `CN=<class>{GUID}`, references as DNs, `whenChanged` as GeneralizedTime).
public enum DirectoryPolicy {
    /// The IP Security container under a domain's naming context.
    public static func ipSecurityContainer(domain: String) -> String { "CN=IP Security,CN=System,\(domain)" }

    /// Reads the IPsec and Group Policy objects among `entries`; other entries are ignored. All or nothing.
    /// - Throws: ``PolicyFormatError`` naming the DN, the attribute and the line (and for blobs, the
    ///   field and byte offset).
    public static func read(
        _ entries: [DirectoryEntry],
        file: String
    ) throws(PolicyFormatError) -> DirectoryPolicyImport {
        let groupPolicy = try DirectoryGroupPolicy.decode(entries, file: file)
        var assembler = StoreAssembler(file: file) { reference in
            var text = reference
            if text.lowercased().hasPrefix("ldap://") { text = String(text.dropFirst("ldap://".count)) }
            return DistinguishedName(text)?.rdns.first.flatMap { WindowsObjectName($0.value) }
        }
        for entry in entries {
            if let object = try storedObject(entry, file: file) { try assembler.add(object) }
        }
        return DirectoryPolicyImport(
            store: try assembler.assemble(),
            groupPolicy: groupPolicy,
            ipsecDataTypes: assembler.dataTypeCounts
        )
    }

    /// The entry as a stored IPsec object, or `nil` when it is not one (or is a GPO assignment object).
    private static func storedObject(_ entry: DirectoryEntry, file: String) throws(PolicyFormatError) -> StoredObject? {
        let classes = entry.objectClasses.compactMap { IPsecObjectClass(caseInsensitive: $0) }
        let rdn = DistinguishedName(entry.dn)?.rdns.first?.value
        let name = rdn.flatMap { WindowsObjectName($0) }
        guard let name else {
            if classes.isEmpty { return nil }
            if try IPsecGPOAssignment.decode(entry, file: file) != nil { return nil }
            throw PolicyFormatError(
                file: file,
                line: entry.line,
                object: entry.dn,
                field: "dn",
                message: "an \(classes[0].rawValue) entry must be named CN=<class>{GUID}"
            )
        }
        if !classes.isEmpty, !classes.contains(name.objectClass) {
            throw PolicyFormatError(
                file: file,
                line: entry.attribute("objectClass")?.line ?? entry.line,
                object: entry.dn,
                field: "objectClass",
                message:
                    "the entry is named as an \(name.objectClass.rawValue) but its objectClass is \(classes[0].rawValue)"
            )
        }
        var object = StoredObject(name: name, location: entry.dn, line: entry.line)
        for attribute in entry.attributes { object.fieldLines[attribute.name.lowercased()] = attribute.line }
        object.ipsecID = entry.string("ipsecID")
        object.ipsecName = entry.string("ipsecName")
        object.description = entry.string("description")
        if let text = entry.string("whenChanged") {
            guard let seconds = GeneralizedTime.parse(text) else {
                throw PolicyFormatError(
                    file: file,
                    line: object.line(of: "whenChanged"),
                    object: entry.dn,
                    field: "whenChanged",
                    message: "'\(text)' is not a GeneralizedTime (YYYYMMDDHHMMSS.0Z)"
                )
            }
            object.whenChanged = seconds
        }
        if let text = entry.string("ipsecDataType") {
            guard let type = UInt32(text) else {
                throw PolicyFormatError(
                    file: file,
                    line: object.line(of: "ipsecDataType"),
                    object: entry.dn,
                    field: "ipsecDataType",
                    message: "'\(text)' is not a number"
                )
            }
            object.dataType = type
        }
        if let value = entry.values("ipsecData").first {
            guard case .binary(let bytes) = value else {
                throw PolicyFormatError(
                    file: file,
                    line: object.line(of: "ipsecData"),
                    object: entry.dn,
                    field: "ipsecData",
                    message: "ipsecData must be a binary (base64) value"
                )
            }
            object.data = bytes
        }
        for field in [
            ReferenceAttribute.isakmp, ReferenceAttribute.nfa, ReferenceAttribute.negotiationPolicy,
            ReferenceAttribute.filter, ReferenceAttribute.owners,
        ] {
            let values = entry.strings(field)
            if !values.isEmpty { object.references[field.lowercased()] = values }
        }
        object.negotiationPolicyAction = entry.string("iPSECNegotiationPolicyAction")
        object.negotiationPolicyType = entry.string("iPSECNegotiationPolicyType")
        return object
    }

    /// The entries of a store under `container` (normally ``ipSecurityContainer(domain:)``), in the
    /// form `ldapadd` and a DSML search return: `objectClass`, `cn`, the ipsec attributes, references as
    /// DNs. `whenChanged` is included when the model has it (Active Directory sets it itself on add).
    /// - Throws: ``PolicyFormatError`` when the store cannot be expressed in Windows data.
    public static func entries(
        _ store: PolicyStore,
        container: String,
        file: String = "<output>"
    ) throws(PolicyFormatError) -> [DirectoryEntry] {
        let containerDN = DistinguishedName(container)?.description ?? container
        let objects = try StoreDisassembler.objects(store, file: file) { name in "CN=\(name),\(containerDN)" }
        return objects.map { object in
            var entry = DirectoryEntry(dn: object.location)
            entry.append("objectClass", .text("top"))
            entry.append("objectClass", .text(object.name.objectClass.rawValue))
            entry.append("cn", .text(object.name.description))
            if let name = object.ipsecName { entry.append("ipsecName", .text(name)) }
            if let description = object.description { entry.append("description", .text(description)) }
            entry.append("ipsecID", .text(object.name.id.braced))
            entry.append("ipsecDataType", .text(String(BlobType.dataType)))
            entry.append("ipsecData", .binary(object.data ?? []))
            for field in [
                ReferenceAttribute.isakmp, ReferenceAttribute.nfa, ReferenceAttribute.negotiationPolicy,
                ReferenceAttribute.filter, ReferenceAttribute.owners,
            ] {
                for value in object.references[field.lowercased()] ?? [] { entry.append(field, .text(value)) }
            }
            if let action = object.negotiationPolicyAction {
                entry.append("iPSECNegotiationPolicyAction", .text(action))
            }
            if let type = object.negotiationPolicyType { entry.append("iPSECNegotiationPolicyType", .text(type)) }
            if let when = object.whenChanged { entry.append("whenChanged", .text(GeneralizedTime.format(when))) }
            return entry
        }
    }
}
