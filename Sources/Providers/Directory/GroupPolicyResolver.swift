public import PolicyFormats
import PolicyModel

/// A GPO that applies to this computer, with the link that brought it.
public struct AppliedGPO: Hashable, Sendable {
    public var gpoDN: String
    /// `displayName` of the GPO container, or its DN when it has none.
    public var displayName: String
    /// The DN of the site, domain or OU whose link applied it.
    public var linkedThrough: String
    public var link: GroupPolicyLink
}

/// The outcome of resolving this computer's directory IPsec policy.
public struct GPOResolution: Hashable, Sendable {
    public enum Outcome: Hashable, Sendable {
        /// The highest-precedence GPO with an IPsec assignment, and the assigned `ipsecPolicy` DN.
        case assigned(AppliedGPO, policyDN: String)
        /// No applying GPO assigns an IPsec policy: the directory policy is (explicitly) unassigned.
        case noneAssigned
        /// A GPO that could decide cannot be located (deleted without unassigning, dangling link, missing
        /// policy object): treated like an unreachable directory.
        case notLocatable(String)
    }

    /// Applying GPOs in precedence order, highest first.
    public var gpos: [AppliedGPO]
    public var outcome: Outcome
}

/// Group Policy precedence for this computer (MS-GPOL's GPO list, computer side):
/// site < domain < OU, parent OU before child, the deepest OU wins; within one container link order 1
/// wins; disabled links are skipped; block inheritance (`gPOptions` bit 0) on a container drops the
/// non-enforced links of every container above it; enforced links win over everything below them,
/// and a higher enforced link over a lower one. The IPsec policy is that of the single highest-precedence
/// GPO carrying an IPsec assignment; policies of different GPOs are never merged.
public enum GroupPolicyResolver {
    /// Why resolution could not start.
    public struct ResolutionError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Where a GPO's IPsec assignment object lives ([MS-GPIPSEC] §2.2.2).
    public static func assignmentDN(forGPO gpoDN: String) -> String {
        "CN=ipsec,CN=Windows,CN=Microsoft,CN=Machine," + gpoDN
    }

    /// - Parameters:
    ///   - computerDN: this computer's DN from the configuration.
    ///   - site: the site's name (`Default-First-Site-Name`) or DN; `nil` when sites are not used.
    /// - Throws: ``ResolutionError`` when the snapshot does not contain this computer or its domain.
    public static func resolve(
        in tree: DirectoryTree,
        computerDN: String,
        site: String?
    ) throws(ResolutionError) -> GPOResolution {
        try resolve(in: tree, computerDN: computerDN, site: site, requiringPolicyObject: true)
    }

    /// The DN of the policy the deciding GPO's assignment names, before the policy object itself is read:
    /// a live reader fetches that policy's objects next, and ``resolve(in:computerDN:site:)`` then decides
    /// on everything. `nil` when no GPO assigns a policy or resolution fails.
    public static func assignedPolicyDN(in tree: DirectoryTree, computerDN: String, site: String?) -> String? {
        let resolution = try? resolve(in: tree, computerDN: computerDN, site: site, requiringPolicyObject: false)
        guard case .assigned(_, let policyDN) = resolution?.outcome else { return nil }
        return policyDN
    }

    private static func resolve(
        in tree: DirectoryTree,
        computerDN: String,
        site: String?,
        requiringPolicyObject: Bool
    ) throws(ResolutionError) -> GPOResolution {
        guard tree.entry(computerDN) != nil else {
            throw ResolutionError(description: "the computer \(computerDN) is not in the directory (\(tree.file))")
        }
        guard let domainDN = DN.domain(of: computerDN), tree.entry(domainDN) != nil else {
            throw ResolutionError(
                description: "the domain object of \(computerDN) is not in the directory (\(tree.file))"
            )
        }

        // Containers from the deepest OU up to the domain, then the site.
        var containers: [DirectoryObject] = []
        var current = DN.parent(computerDN)
        while let dn = current, DN.normalize(dn) != DN.normalize(domainDN) {
            if let entry = tree.entry(dn), entry.isA("organizationalUnit") || !entry.values("gPLink").isEmpty {
                containers.append(entry)
            }
            current = DN.parent(dn)
        }
        if let domain = tree.entry(domainDN) { containers.append(domain) }
        if let site, let siteEntry = findSite(site, in: tree) { containers.append(siteEntry) }

        // Walk bottom-up: enforced links are collected bottom-up and end up top-first; non-enforced links
        // stop at the first container above a block.
        var enforced: [[AppliedGPO]] = []
        var normal: [AppliedGPO] = []
        var blocked = false
        for container in containers {
            var links: [GroupPolicyLink] = []
            do {
                for text in container.values("gPLink") {
                    links += try GroupPolicyLink.parse(text, file: tree.file, location: container.dn)
                }
            } catch {
                throw ResolutionError(description: error.description)
            }
            links = links.filter { !$0.isDisabled }.sorted { $0.linkOrder < $1.linkOrder }
            var enforcedHere: [AppliedGPO] = []
            for link in links {
                let applied = AppliedGPO(
                    gpoDN: link.gpoDN,
                    displayName: tree.entry(link.gpoDN)?.value("displayName") ?? link.gpoDN,
                    linkedThrough: container.dn,
                    link: link
                )
                if link.isEnforced {
                    enforcedHere.append(applied)
                } else if !blocked {
                    normal.append(applied)
                }
            }
            enforced.append(enforcedHere)
            if let text = container.value("gPOptions") {
                do {
                    if try GroupPolicyOptions.parse(text, file: tree.file, location: container.dn).blocksInheritance {
                        blocked = true
                    }
                } catch {
                    throw ResolutionError(description: error.description)
                }
            }
        }
        let ordered = enforced.reversed().flatMap { $0 } + normal

        // The single highest-precedence GPO that carries an IPsec assignment decides; the rest are listed
        // for `show --effective` but never merged.
        var applying: [AppliedGPO] = []
        var outcome: GPOResolution.Outcome?
        for gpo in ordered {
            // A link to a GPO that no longer exists: it may have carried the assignment (deleted without
            // unassigning), so nothing below it can be trusted to decide.
            guard let container = tree.entry(gpo.gpoDN) else {
                if outcome == nil {
                    outcome = .notLocatable("the GPO \(gpo.gpoDN) linked to \(gpo.linkedThrough) cannot be found")
                }
                continue
            }
            // A GPO this computer may not read comes back without attributes: Group Policy denies it
            // ("inaccessible") and goes on with the others.
            if container.attributes.isEmpty { continue }
            // GPO flags bit 1: computer settings disabled.
            if let flags = container.value("flags"), (Int(flags) ?? 0) & 2 != 0 { continue }
            applying.append(gpo)
            guard outcome == nil, let assignment = tree.entry(assignmentDN(forGPO: gpo.gpoDN)) else { continue }
            if let policyDN = assignment.value("ipsecOwnersReference") {
                outcome =
                    !requiringPolicyObject || tree.entry(policyDN) != nil
                    ? .assigned(gpo, policyDN: policyDN)
                    : .notLocatable("the IPsec policy \(policyDN) assigned by GPO \(gpo.displayName) cannot be found")
            } else {
                outcome = .notLocatable("the IPsec assignment of GPO \(gpo.displayName) names no policy")
            }
        }
        return GPOResolution(gpos: applying, outcome: outcome ?? .noneAssigned)
    }

    private static func findSite(_ site: String, in tree: DirectoryTree) -> DirectoryObject? {
        if site.contains("=") { return tree.entry(site) }
        return tree.entries.first { entry in
            entry.isA("site") && (entry.value("cn") ?? DN.leafValue(entry.dn))?.caseInsensitiveEquals(site) == true
        }
    }
}
