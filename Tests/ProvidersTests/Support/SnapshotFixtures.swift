import Foundation
import PolicyFormats
import PolicyModel
import Providers

/// The directory snapshots in `Fixtures/`, generated from this description: one domain, a site, GPOs with
/// IPsec assignments, OUs with links, and one computer per scenario. Real Windows IPsec objects (blobs)
/// from PolicyFormats' directory writer.
enum SnapshotFixtures {
    static let domain = "DC=example,DC=test"
    static let site = "CN=Default-First-Site-Name,CN=Sites,CN=Configuration," + domain

    /// The snapshot variants, each written as a fixture file.
    enum Variant: String, CaseIterable {
        /// Domain, site, OU links as described on ``computers``.
        case base
        /// As base, but the domain link is enforced.
        case enforced
        /// As base, but the Web policy changed (new content and `whenChanged`).
        case changed
        /// As base, but the domain GPO's IPsec assignment was removed (explicit unassign).
        case unassigned

        /// The fixture file name: LDIF for some, DSMLv2 for others, so both readers are exercised.
        var fileName: String {
            switch self {
            case .base: "directory-base.ldif"
            case .enforced: "directory-enforced.dsml"
            case .changed: "directory-changed.ldif"
            case .unassigned: "directory-unassigned.dsml"
            }
        }

        var isDSML: Bool { fileName.hasSuffix(".dsml") }
    }

    /// Scenario computers and the OU each sits in.
    enum Computer: String, CaseIterable {
        /// OU=Plain has no links: the domain GPO applies.
        case plain = "CN=PC-PLAIN,OU=Plain,DC=example,DC=test"
        /// OU=Servers links the Servers GPO: it overrides the domain.
        case servers = "CN=PC-SERVERS,OU=Servers,DC=example,DC=test"
        /// OU=Web under OU=Servers links the Web GPO: the deepest OU wins.
        case web = "CN=PC-WEB,OU=Web,OU=Servers,DC=example,DC=test"
        /// OU=Inherit under OU=Servers links a GPO without IPsec: inherits Servers.
        case inherit = "CN=PC-INHERIT,OU=Inherit,OU=Servers,DC=example,DC=test"
        /// OU=Blocked blocks inheritance and links nothing: no directory policy (unless enforced).
        case blocked = "CN=PC-BLOCKED,OU=Blocked,DC=example,DC=test"
        /// OU=Two links "Two A" (link order 1) and "Two B" (link order 2).
        case two = "CN=PC-TWO,OU=Two,DC=example,DC=test"
        /// OU=Orphan links a GPO that was deleted without unassigning.
        case orphan = "CN=PC-ORPHAN,OU=Orphan,DC=example,DC=test"
    }

    /// Policy names by GPO number; GPO 4 carries no IPsec policy, GPO 8 does not exist.
    static let gpoPolicies: [Int: String] = [
        1: "Domain Policy", 2: "Servers Policy", 3: "Web Policy", 5: "Two A Policy", 6: "Two B Policy",
        7: "Site Policy",
    ]
    static let gpoNames: [Int: String] = [
        1: "Default Domain IPsec", 2: "Servers IPsec", 3: "Web IPsec", 4: "Inherit settings", 5: "Two A",
        6: "Two B", 7: "Site IPsec", 8: "Deleted GPO",
    ]

    static func gpoID(_ n: Int) -> IPsecGUID { Fixtures.guid(n, space: 0xAA) }
    static func gpoDN(_ n: Int) -> String { "CN=\(gpoID(n).braced.uppercased()),CN=Policies,CN=System," + domain }
    static func policyID(_ n: Int) -> IPsecGUID { Fixtures.guid(1, space: UInt8(0x40 + n)) }
    static func policyDN(_ n: Int) -> String {
        "CN=ipsecPolicy\(policyID(n).braced),CN=IP Security,CN=System," + domain
    }

    /// The policy of GPO `n`: one rule blocking `198.18.<n>.1` (the Web policy's changed variant blocks
    /// `198.18.33.1`).
    static func policyStore(_ n: Int, changed: Bool = false) -> PolicyStore {
        var store = Fixtures.simple(gpoPolicies[n]!, space: UInt8(0x40 + n))
        let address = IPv4Address(198, 18, changed ? 33 : UInt8(n), 1)
        store.filterLists[0].filters[0].destination = .host(address)
        store.policies[0].whenChanged = changed ? 1_795_000_000 : 1_794_000_000
        store.assignedPolicyID = nil
        return store
    }

    static func entries(_ variant: Variant) throws -> [DirectoryEntry] {
        var result: [DirectoryEntry] = []
        func object(_ dn: String, _ classes: [String], _ attributes: [(String, String)] = []) {
            var entry = DirectoryEntry(dn: dn)
            for objectClass in ["top"] + classes { entry.append("objectClass", .text(objectClass)) }
            for (name, value) in attributes { entry.append(name, .text(value)) }
            result.append(entry)
        }
        func links(_ gpos: [Int], enforced: Bool = false) -> (String, String) {
            // Stored lowest precedence first: the last item has link order 1.
            ("gPLink", gpos.reversed().map { "[LDAP://\(gpoDN($0));\(enforced ? 2 : 0)]" }.joined())
        }
        object(domain, ["domain", "domainDNS"], [links([1], enforced: variant == .enforced)])
        object(site, ["site"], [("cn", "Default-First-Site-Name"), links([7])])
        for n in 1...7 {
            object(gpoDN(n), ["container", "groupPolicyContainer"], [("displayName", gpoNames[n]!), ("flags", "0")])
            guard gpoPolicies[n] != nil, !(variant == .unassigned && n == 1) else { continue }
            object(
                GroupPolicyResolver.assignmentDN(forGPO: gpoDN(n)),
                ["ipsecPolicy"],
                [("ipsecOwnersReference", policyDN(n))]
            )
        }
        object("OU=Plain," + domain, ["organizationalUnit"])
        object("OU=Servers," + domain, ["organizationalUnit"], [links([2])])
        object("OU=Web,OU=Servers," + domain, ["organizationalUnit"], [links([3])])
        object("OU=Inherit,OU=Servers," + domain, ["organizationalUnit"], [links([4])])
        object("OU=Blocked," + domain, ["organizationalUnit"], [("gPOptions", "1")])
        object("OU=Two," + domain, ["organizationalUnit"], [links([5, 6])])
        object("OU=Orphan," + domain, ["organizationalUnit"], [links([8])])
        for computer in Computer.allCases { object(computer.rawValue, ["computer"]) }
        var store = PolicyStore()
        for n in gpoPolicies.keys.sorted() {
            store.merge(policyStore(n, changed: variant == .changed && n == 3))
        }
        result += try DirectoryPolicy.entries(store, container: DirectoryPolicy.ipSecurityContainer(domain: domain))
        return result
    }

    /// The fixture file's bytes for `variant`.
    static func bytes(_ variant: Variant) throws -> [UInt8] {
        let entries = try entries(variant)
        return variant.isDSML ? DSML.write(entries) : LDIF.write(entries)
    }

    /// The committed fixture's path.
    static func path(_ variant: Variant) -> String {
        let here = #filePath
        let tests = here[..<here.range(of: "/Support/")!.lowerBound]
        return tests + "/Fixtures/" + variant.fileName
    }
}
