import Foundation
import Keying
import PolicyModel
import Testing

@Suite struct CertificateTests {
    static let fixtures = #filePath.replacingOccurrences(of: "CertificateTests.swift", with: "Fixtures")

    static func credentials() -> Credentials {
        Credentials.load(caDirectory: fixtures + "/ca", certificateDirectory: fixtures + "/certs")
    }

    @Test func readsTheTestCAAndHostCertificate() throws {
        let credentials = Self.credentials()
        #expect(credentials.problems.isEmpty)
        let ca = try #require(credentials.authorities.first)
        #expect(ca.subject.description == "O=Example, CN=Example Root CA")
        let host = try #require(credentials.hostCertificates.first)
        #expect(host.subject.description == "O=Example, CN=host1.example.test")
        #expect(host.issuer.matches(ca.subject))
        #expect(credentials.privateKeys.count == 1)
    }

    @Test(arguments: [
        "CN=Example Root CA, O=Example", "O=Example, CN=Example Root CA", "cn=example root ca; o=EXAMPLE",
        "commonName=Example Root CA,organizationName=Example",
    ])
    func windowsCANamesMatchWhateverTheOrderAndCase(name: String) throws {
        let parsed = try #require(DistinguishedName(parsing: name))
        #expect(Self.credentials().authority(named: parsed) != nil)
    }

    @Test func otherNamesDoNotMatch() throws {
        let credentials = Self.credentials()
        #expect(credentials.authority(named: DistinguishedName(parsing: "CN=Example Root CA")!) == nil)
        #expect(credentials.authority(named: DistinguishedName(parsing: "CN=Other, O=Example")!) == nil)
        #expect(DistinguishedName(parsing: "no equals sign") == nil)
        #expect(DistinguishedName(parsing: #"CN="Example, Inc", O=X"#)?.attributes.first?.value == "Example, Inc")
    }

    @Test func certificateRuleLoadsTheCAAndTheHostCertificate() throws {
        let credentials = Self.credentials()
        let configuration = PlannerFixture.plan(
            [PlannerFixture.filter(auth: [.certificate(CertificateAuthority(name: "CN=Example Root CA, O=Example"))])],
            credentials: credentials
        )
        let (connection, _) = try PlannerFixture.only(configuration)
        let local = try #require(connection.definition.section("local-1"))
        #expect(local.string("auth") == "pubkey")
        #expect(local["certs"] == .list([credentials.hostCertificates[0].der]))
        let remote = try #require(connection.definition.section("remote-1"))
        #expect(remote.string("auth") == "pubkey")
        #expect(remote["cacerts"] == .list([credentials.authorities[0].der]))
        #expect(connection.definition.string("send_certreq") == "yes")
        let key = try #require(configuration.secrets[connection.secrets[0]])
        #expect(key.kind == .privateKey)
        #expect(key.loadMessage.string("type") == "any")
    }

    @Test func unknownCAMakesTheRuleUnnegotiable() {
        let configuration = PlannerFixture.plan(
            [PlannerFixture.filter(auth: [.certificate(CertificateAuthority(name: "CN=Nobody"))])],
            credentials: Self.credentials()
        )
        #expect(configuration.connections.isEmpty)
        #expect(configuration.unnegotiable[0]?.reason.contains("no certificate of \"CN=Nobody\"") == true)
    }

    @Test func presharedKeyThenCertificateGivesAResponderVariant() throws {
        let configuration = PlannerFixture.plan(
            [
                PlannerFixture.filter(auth: [
                    .preSharedKey("k"), .certificate(CertificateAuthority(name: "CN=Example Root CA, O=Example")),
                ])
            ],
            credentials: Self.credentials()
        )
        #expect(configuration.connections.count == 2)
        let first = try #require(configuration.connections.values.first { !$0.name.contains("~") })
        let second = try #require(configuration.connections.values.first { $0.name.hasSuffix("~2") })
        #expect(first.definition.section("local-1")?.string("auth") == "psk")
        #expect(!first.respondsOnly)
        #expect(second.definition.section("local-1")?.string("auth") == "pubkey")
        #expect(second.respondsOnly)
        let secondChild = try #require(second.definition.section("children")?.sections.first?.message)
        #expect(secondChild.string("start_action") == "none")
    }
}
