public import PolicyModel

/// The IPsec assignment object of a GPO: `CN=ipsec,CN=Windows,CN=Microsoft,CN=Machine,CN={GPO},CN=Policies,
/// CN=System,<domain>` (class `ipsecPolicy`), whose `ipsecOwnersReference` names the assigned policy
/// ([MS-GPIPSEC] §2.2.2). Which GPO wins is the directory provider's job; this is only the decoding.
public struct IPsecGPOAssignment: Hashable, Sendable {
    /// The assignment object's own DN.
    public var dn: String
    /// The GPO's DN (`CN={GPO},CN=Policies,CN=System,<domain>`).
    public var gpoDN: String
    public var gpoID: IPsecGUID
    /// The assigned `ipsecPolicy`'s DN (the `LDAP://` prefix, if any, removed).
    public var policyDN: String
    /// The assigned policy's GUID, from the DN's `CN=ipsecPolicy{GUID}`.
    public var policyID: IPsecGUID?
    /// Display only: `ipsecName` and `description` of the assignment object.
    public var name: String?
    public var description: String?
    public var line: Int

    /// Decodes `entry` if it is a GPO's IPsec assignment object; `nil` for any other entry.
    /// - Throws: ``PolicyFormatError`` when it is one but names no policy.
    public static func decode(_ entry: DirectoryEntry, file: String) throws(PolicyFormatError) -> IPsecGPOAssignment? {
        guard let dn = DistinguishedName(entry.dn), dn.rdns.count >= 7 else { return nil }
        let path = dn.rdns.prefix(5).map { "\($0.type.lowercased())=\($0.value.lowercased())" }
        guard Array(path.prefix(4)) == ["cn=ipsec", "cn=windows", "cn=microsoft", "cn=machine"],
            let gpoID = IPsecGUID(dn.rdns[4].value),
            dn.rdns[5].type.lowercased() == "cn", dn.rdns[5].value.lowercased() == "policies"
        else { return nil }
        guard var reference = entry.string("ipsecOwnersReference"), !reference.isEmpty else {
            throw PolicyFormatError(
                file: file,
                line: entry.line,
                object: entry.dn,
                field: "ipsecOwnersReference",
                message: "the GPO's IPsec assignment object names no policy"
            )
        }
        if reference.lowercased().hasPrefix("ldap://") { reference = String(reference.dropFirst("ldap://".count)) }
        guard let policy = DistinguishedName(reference) else {
            throw PolicyFormatError(
                file: file,
                line: entry.line,
                object: entry.dn,
                field: "ipsecOwnersReference",
                message: "'\(reference)' is not a distinguished name"
            )
        }
        let gpo = DistinguishedName(rdns: Array(dn.rdns.dropFirst(4)))
        return IPsecGPOAssignment(
            dn: entry.dn,
            gpoDN: gpo.description,
            gpoID: gpoID,
            policyDN: reference,
            policyID: WindowsObjectName(policy.rdns[0].value)?.id,
            name: entry.string("ipsecName"),
            description: entry.string("description"),
            line: entry.line
        )
    }
}

/// A site, domain or OU with Group Policy links (`gPLink`) or options (`gPOptions`).
public struct GroupPolicyContainer: Hashable, Sendable {
    public var dn: String
    /// Links in stored order (lowest precedence first); see ``GroupPolicyLink``.
    public var links: [GroupPolicyLink]
    public var options: GroupPolicyOptions
    public var line: Int

    /// Decodes `entry` if it carries `gPLink` or `gPOptions`; `nil` otherwise.
    public static func decode(_ entry: DirectoryEntry, file: String) throws(PolicyFormatError) -> GroupPolicyContainer?
    {
        let link = entry.attribute("gPLink")
        let options = entry.attribute("gPOptions")
        guard link != nil || options != nil else { return nil }
        let links = try link?.values.first?.text.map { (text) throws(PolicyFormatError) in
            try GroupPolicyLink.parse(text, file: file, location: entry.dn, line: link?.line)
        }
        let parsedOptions = try options?.values.first?.text.map { (text) throws(PolicyFormatError) in
            try GroupPolicyOptions.parse(text, file: file, location: entry.dn, line: options?.line)
        }
        return GroupPolicyContainer(
            dn: entry.dn,
            links: links ?? [],
            options: parsedOptions ?? GroupPolicyOptions(rawValue: 0),
            line: entry.line
        )
    }
}

/// A GPO (`groupPolicyContainer`): its GUID, display name and `flags` (bit 1 disables its computer part,
/// which is where IPsec policy lives).
public struct GroupPolicyObject: Hashable, Sendable {
    public var dn: String
    public var id: IPsecGUID
    public var displayName: String?
    public var flags: UInt32
    public var line: Int

    /// Whether the computer configuration of this GPO is disabled (`flags` bit 1).
    public var isComputerConfigurationDisabled: Bool { flags & 2 != 0 }

    /// Decodes `entry` if it is a `groupPolicyContainer` named `CN={GUID}`; `nil` otherwise.
    public static func decode(_ entry: DirectoryEntry, file: String) throws(PolicyFormatError) -> GroupPolicyObject? {
        guard entry.objectClasses.contains("grouppolicycontainer"),
            let first = DistinguishedName(entry.dn)?.rdns.first, let id = IPsecGUID(first.value)
        else { return nil }
        let flagsText = entry.string("flags") ?? "0"
        guard let flags = UInt32(flagsText.directoryTrimmingSpaces) else {
            throw PolicyFormatError(
                file: file,
                line: entry.attribute("flags")?.line ?? entry.line,
                object: entry.dn,
                field: "flags",
                message: "'\(flagsText)' is not a number"
            )
        }
        return GroupPolicyObject(
            dn: entry.dn,
            id: id,
            displayName: entry.string("displayName"),
            flags: flags,
            line: entry.line
        )
    }
}

/// Everything about Group Policy in a directory dump: containers with links, GPOs, IPsec assignments.
public struct DirectoryGroupPolicy: Hashable, Sendable {
    public var containers: [GroupPolicyContainer]
    public var gpos: [GroupPolicyObject]
    public var assignments: [IPsecGPOAssignment]

    public init(
        containers: [GroupPolicyContainer] = [],
        gpos: [GroupPolicyObject] = [],
        assignments: [IPsecGPOAssignment] = []
    ) {
        self.containers = containers
        self.gpos = gpos
        self.assignments = assignments
    }

    /// Collects the Group Policy objects among `entries`; other entries are ignored. All or nothing.
    public static func decode(
        _ entries: [DirectoryEntry],
        file: String
    ) throws(PolicyFormatError) -> DirectoryGroupPolicy {
        var result = DirectoryGroupPolicy()
        for entry in entries {
            if let container = try GroupPolicyContainer.decode(entry, file: file) {
                result.containers.append(container)
            }
            if let gpo = try GroupPolicyObject.decode(entry, file: file) { result.gpos.append(gpo) }
            if let assignment = try IPsecGPOAssignment.decode(entry, file: file) {
                result.assignments.append(assignment)
            }
        }
        return result
    }

    /// The IPsec assignment of the GPO `id`, if it has one.
    public func assignment(gpo id: IPsecGUID) -> IPsecGPOAssignment? { assignments.first { $0.gpoID == id } }
}
