import PolicyFormats
import PolicyModel
import Testing

@Suite struct DirectoryGroupPolicyTests {
    @Test func parsesGPLinkInPrecedenceOrder() throws {
        let text =
            "[LDAP://cn={31B2F340-016D-11D2-945F-00C04FB984F9},cn=policies,cn=system,DC=example,DC=com;0]"
            + "[LDAP://CN={6AC1786C-016F-11D2-945F-00C04FB984F9},CN=Policies,CN=System,DC=example,DC=com;3]"
        let links = try GroupPolicyLink.parse(text, file: "f")
        #expect(links.count == 2)
        #expect(links[0].gpoID == IPsecGUID("{31B2F340-016D-11D2-945F-00C04FB984F9}"))
        #expect(links[0].linkOrder == 2 && !links[0].isDisabled && !links[0].isEnforced)
        #expect(links[1].linkOrder == 1 && links[1].isDisabled && links[1].isEnforced)
        #expect(GroupPolicyLink.format(links) == text)
        #expect(try GroupPolicyLink.parse("", file: "f").isEmpty)
        #expect(throws: PolicyFormatError.self) { _ = try GroupPolicyLink.parse("[LDAP://cn=x;zero]", file: "f") }
    }

    @Test func decodesAssignmentsContainersAndGPOs() throws {
        let text = """
            dn: CN=ipsec,CN=Windows,CN=Microsoft,CN=Machine,CN={6AC1786C-016F-11D2-945F-00C04FB984F9},CN=Policies,CN=System,DC=example,DC=com
            objectClass: ipsecPolicy
            ipsecName: Secure Server (Require Security)
            ipsecOwnersReference: CN=ipsecPolicy{7238523C-70FA-11D1-864C-14A300000000},CN=IP Security,CN=System,DC=example,DC=com

            dn: OU=Servers,DC=example,DC=com
            gPLink: [LDAP://cn={6AC1786C-016F-11D2-945F-00C04FB984F9},cn=policies,cn=system,DC=example,DC=com;2]
            gPOptions: 1

            dn: CN={6AC1786C-016F-11D2-945F-00C04FB984F9},CN=Policies,CN=System,DC=example,DC=com
            objectClass: groupPolicyContainer
            displayName: Servers IPsec
            flags: 0

            """
        let entries = try LDIF.entries(Array(text.utf8), file: "gp.ldif")
        let gp = try DirectoryGroupPolicy.decode(entries, file: "gp.ldif")
        let gpo = try #require(IPsecGUID("{6AC1786C-016F-11D2-945F-00C04FB984F9}"))
        let assignment = try #require(gp.assignment(gpo: gpo))
        #expect(assignment.policyID == IPsecGUID("{7238523C-70FA-11D1-864C-14A300000000}"))
        #expect(assignment.gpoDN == "CN={6AC1786C-016F-11D2-945F-00C04FB984F9},CN=Policies,CN=System,DC=example,DC=com")
        #expect(assignment.name == "Secure Server (Require Security)")
        #expect(gp.containers.count == 1)
        #expect(gp.containers[0].options.blocksInheritance)
        #expect(gp.containers[0].links.first?.isEnforced == true)
        #expect(gp.gpos.first?.displayName == "Servers IPsec")
        #expect(gp.gpos.first?.isComputerConfigurationDisabled == false)
    }

    @Test func distinguishedNamesHandleEscapes() throws {
        let dn = try #require(DistinguishedName("CN=Smith\\, John,OU=a\\2Cb,DC=example"))
        #expect(dn.rdns.map(\.value) == ["Smith, John", "a,b", "example"])
        #expect(dn.description == "CN=Smith\\, John,OU=a\\,b,DC=example")
        #expect(dn.isWithin(try #require(DistinguishedName("dc=EXAMPLE"))))
        #expect(DistinguishedName("CN=x,") == nil)
        #expect(DistinguishedName("novalue") == nil)
    }
}
