import PolicyModel
import Providers
import Testing

@Suite struct GroupPolicyResolverTests {
    static let servers = "OU=Servers," + TreeBuilder.domain
    static let web = "OU=Web,OU=Servers," + TreeBuilder.domain

    func winner(_ builder: TreeBuilder, site: String? = nil) throws -> (String, String)? {
        let resolution = try GroupPolicyResolver.resolve(in: builder.tree, computerDN: TreeBuilder.computer, site: site)
        switch resolution.outcome {
        case .assigned(let gpo, let policyDN): return (gpo.displayName, policyDN)
        case .noneAssigned: return nil
        case .notLocatable(let reason): return ("not locatable", reason)
        }
    }

    func name(_ builder: TreeBuilder, site: String? = nil) throws -> String? { try winner(builder, site: site)?.0 }

    @Test func domainOnly() throws {
        var b = TreeBuilder()
        b.gpo(1, name: "Domain IPsec", assigns: "D")
        b.link(TreeBuilder.domain, 1)
        #expect(try name(b) == "Domain IPsec")
    }

    @Test func ouOverridesDomainAndSite() throws {
        var b = TreeBuilder()
        let site = b.site("Lab")
        b.gpo(1, name: "Domain IPsec", assigns: "D")
        b.gpo(2, name: "Servers IPsec", assigns: "S")
        b.gpo(3, name: "Site IPsec", assigns: "T")
        b.link(TreeBuilder.domain, 1)
        b.link(Self.servers, 2)
        b.link(site, 3)
        #expect(try name(b, site: "Lab") == "Servers IPsec")
        b.remove(GroupPolicyResolver.assignmentDN(forGPO: TreeBuilder.gpoDN(2)))
        b.unassign(1)
        #expect(try name(b, site: "Lab") == "Site IPsec")
    }

    @Test func deepestOUWins() throws {
        var b = TreeBuilder()
        b.gpo(2, name: "Servers IPsec", assigns: "S")
        b.gpo(3, name: "Web IPsec", assigns: "W")
        b.link(Self.servers, 2)
        b.link(Self.web, 3)
        #expect(try name(b) == "Web IPsec")
    }

    @Test func childInheritsFromParentOU() throws {
        var b = TreeBuilder()
        b.gpo(2, name: "Servers IPsec", assigns: "S")
        b.gpo(4, name: "Web settings without IPsec")
        b.link(Self.servers, 2)
        b.link(Self.web, 4)
        #expect(try name(b) == "Servers IPsec")
    }

    @Test func blockedInheritanceStopsParents() throws {
        var b = TreeBuilder()
        b.gpo(1, name: "Domain IPsec", assigns: "D")
        b.gpo(2, name: "Servers IPsec", assigns: "S")
        b.link(TreeBuilder.domain, 1)
        b.link(Self.servers, 2)
        b.link(Self.web, [], blocks: true)
        #expect(try name(b) == nil)
    }

    @Test func enforcedLinkWinsOverEverythingBelowAndIgnoresBlocks() throws {
        var b = TreeBuilder()
        b.gpo(1, name: "Domain IPsec", assigns: "D")
        b.gpo(2, name: "Servers IPsec", assigns: "S")
        b.gpo(3, name: "Web IPsec", assigns: "W")
        b.link(TreeBuilder.domain, [(1, true, false)])
        b.link(Self.servers, 2)
        b.link(Self.web, [(3, false, false)], blocks: true)
        #expect(try name(b) == "Domain IPsec")
        // A higher enforced link beats a lower enforced link.
        b.link(Self.servers, [(2, true, false)])
        #expect(try name(b) == "Domain IPsec")
        b.link(TreeBuilder.domain, [(1, false, false)])
        #expect(try name(b) == "Servers IPsec")
    }

    @Test func twoGPOsAtOneLevelFollowLinkOrder() throws {
        var b = TreeBuilder()
        b.gpo(5, name: "First", assigns: "A")
        b.gpo(6, name: "Second", assigns: "B")
        b.link(Self.web, 5, 6)
        #expect(try name(b) == "First")
        b.link(Self.web, 6, 5)
        #expect(try name(b) == "Second")
        // A disabled link does not apply.
        b.link(Self.web, [(6, false, true), (5, false, false)])
        #expect(try name(b) == "First")
    }

    @Test func neverMergedOnlyTheWinnersPolicy() throws {
        var b = TreeBuilder()
        b.gpo(1, name: "Domain IPsec", assigns: "D")
        b.gpo(3, name: "Web IPsec", assigns: "W")
        b.link(TreeBuilder.domain, 1)
        b.link(Self.web, 3)
        let resolution = try GroupPolicyResolver.resolve(in: b.tree, computerDN: TreeBuilder.computer, site: nil)
        #expect(resolution.gpos.map(\.displayName) == ["Web IPsec", "Domain IPsec"])
        guard case .assigned(_, let policyDN) = resolution.outcome else {
            Issue.record("no assignment")
            return
        }
        #expect(DN.normalize(policyDN) == DN.normalize(TreeBuilder.policyDN("W")))
    }

    @Test func deletedGPOOrPolicyIsNotLocatable() throws {
        var b = TreeBuilder()
        b.gpo(3, name: "Web IPsec", assigns: "W")
        b.link(Self.web, 3)
        b.policy("W", space: 9)
        #expect(try name(b) == "Web IPsec")
        // The assigned policy object deleted without unassigning.
        var noPolicy = b
        noPolicy.remove(TreeBuilder.policyDN("W"))
        #expect(try name(noPolicy) == "not locatable")
        // The GPO deleted, its link left behind.
        var noGPO = b
        noGPO.remove(TreeBuilder.gpoDN(3))
        #expect(try name(noGPO) == "not locatable")
    }

    @Test func computerSettingsDisabledGPOIsSkipped() throws {
        var b = TreeBuilder()
        b.gpo(1, name: "Domain IPsec", assigns: "D")
        b.gpo(3, name: "Web IPsec", assigns: "W", flags: 2)
        b.link(TreeBuilder.domain, 1)
        b.link(Self.web, 3)
        #expect(try name(b) == "Domain IPsec")
    }

    @Test func computerMissingFromSnapshotIsAnError() {
        let b = TreeBuilder()
        #expect(throws: GroupPolicyResolver.ResolutionError.self) {
            try GroupPolicyResolver.resolve(in: b.tree, computerDN: "CN=Other," + TreeBuilder.domain, site: nil)
        }
    }

    /// A GPO the computer may not read comes back from the directory without attributes: Group Policy
    /// denies it ("inaccessible") and the next GPO decides; the policy the winner assigns is named
    /// before the policy object is read (the live reader fetches it next).
    @Test func inaccessibleGPOIsSkipped() throws {
        var b = TreeBuilder()
        b.gpo(1, name: "Domain IPsec", assigns: "D")
        b.gpo(3, name: "Web IPsec", assigns: "W")
        b.link(TreeBuilder.domain, 1)
        b.link(Self.web, 3)
        b.add(DirectoryObject(dn: TreeBuilder.gpoDN(3)))
        #expect(try name(b) == "Domain IPsec")
        b.remove(TreeBuilder.policyDN("D"))
        #expect(
            GroupPolicyResolver.assignedPolicyDN(in: b.tree, computerDN: TreeBuilder.computer, site: nil)
                == TreeBuilder.policyDN("D")
        )
        #expect(try winner(b)?.0 == "not locatable")
    }
}
