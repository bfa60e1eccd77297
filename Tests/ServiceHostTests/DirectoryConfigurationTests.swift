import Providers
import ServiceHost
import Testing

/// The directory keys of ipsecsvc.conf: `directory = ldap | snapshot | none` and the live directory's
/// settings, checked together, each error naming the file and the line to change.
@Suite struct DirectoryConfigurationTests {
    func parse(_ lines: String...) throws(ConfigurationError) -> ServiceConfiguration {
        try ServiceConfiguration.parse(lines.joined(separator: "\n") + "\n", path: "/etc/ipsecsvc/ipsecsvc.conf")
    }

    func error(_ lines: String...) -> ConfigurationError? {
        do {
            _ = try ServiceConfiguration.parse(
                lines.joined(separator: "\n") + "\n",
                path: "/etc/ipsecsvc/ipsecsvc.conf"
            )
            return nil
        } catch {
            return error
        }
    }

    @Test func ldapWithEveryKey() throws {
        let configuration = try parse(
            "directory = ldap",
            "domain = example.test",
            "domain_controllers = dc1.example.test, dc2.example.test:3389",
            "keytab = /etc/ipsecsvc/host.keytab",
            "ldap_timeout_seconds = 4",
            "ldap_page_size = 100",
            "site = Lab"
        )
        #expect(configuration.effectiveDirectoryMode == .ldap)
        let directory = try #require(PolicyEngineFactory.directoryConfiguration(configuration))
        let ldap = try #require(directory.ldap)
        #expect(directory.snapshotPath == nil && directory.computerDN == nil && directory.site == "Lab")
        #expect(ldap.domain == "example.test")
        #expect(ldap.domainControllers == ["dc1.example.test", "dc2.example.test:3389"])
        #expect(ldap.bind == .gssapi(keytab: "/etc/ipsecsvc/host.keytab"))
        #expect(ldap.transport == .plain && ldap.timeout == .seconds(4) && ldap.pageSize == 100)
        #expect(directory.makeReader()?.sourceDescription == "LDAP, domain example.test")
    }

    @Test func simpleBindOverTLS() throws {
        let configuration = try parse(
            "directory = ldap",
            "domain = example.test",
            "ldap_bind = simple",
            "ldap_bind_dn = HOST$@example.test",
            "ldap_bind_password_file = /etc/ipsecsvc/bind.pw",
            "ldap_tls = ldaps",
            "ldap_tls_ca_file = /etc/ssl/dc.pem"
        )
        let ldap = try #require(PolicyEngineFactory.directoryConfiguration(configuration)?.ldap)
        #expect(ldap.bind == .simple(dn: "HOST$@example.test", passwordFile: "/etc/ipsecsvc/bind.pw"))
        #expect(ldap.transport == .ldaps && ldap.tlsCAFile == "/etc/ssl/dc.pem")
    }

    @Test func defaultsKeepTheSnapshotBehaviour() throws {
        #expect(try parse("state_dir = /srv/x").effectiveDirectoryMode == .none)
        let snapshot = try parse("state_dir = /srv/x", "computer_dn = CN=PC1,DC=example,DC=test")
        #expect(snapshot.effectiveDirectoryMode == .snapshot)
        let directory = try #require(PolicyEngineFactory.directoryConfiguration(snapshot))
        #expect(directory.ldap == nil && directory.snapshotPath == "/srv/x/directory-snapshot")
        let defaults = try #require(
            PolicyEngineFactory.directoryConfiguration(parse("directory = ldap", "domain = example.test"))?.ldap
        )
        #expect(defaults.pageSize == 500 && defaults.timeout == .seconds(10))
        #expect(defaults.bind == .gssapi(keytab: "/etc/krb5.keytab") && defaults.domainControllers.isEmpty)
        #expect(
            try PolicyEngineFactory.directoryConfiguration(parse("directory = none", "computer_dn = CN=PC1,DC=x"))
                == nil
        )
    }

    @Test func badCombinationsNameTheLine() {
        let missingDomain = error("state_dir = /srv/x", "directory = ldap")
        #expect(missingDomain?.line == 2)
        #expect(missingDomain?.message.contains("'domain'") == true)
        #expect(error("directory = snapshot")?.message.contains("computer_dn") == true)
        let plainSimple = error(
            "directory = ldap",
            "domain = example.test",
            "ldap_bind = simple",
            "ldap_bind_dn = x",
            "ldap_bind_password_file = /p"
        )
        #expect(plainSimple?.line == 3)
        #expect(plainSimple?.message.contains("ldap_tls") == true)
        #expect(
            error("directory = ldap", "domain = example.test", "ldap_bind = simple")?.message.contains("ldap_bind_dn")
                == true
        )
        let sealedTwice = error("directory = ldap", "domain = example.test", "ldap_tls = starttls")
        #expect(sealedTwice?.line == 3)
        #expect(error("directory = ad")?.message.contains("ldap, snapshot or none") == true)
        #expect(error("ldap_timeout_seconds = 0")?.line == 1)
        #expect(error("state_dir = /srv/x", "ldap_page_size = 1001")?.line == 2)
        #expect(error("keytab = relative.keytab")?.message.contains("absolute path") == true)
        #expect(error("domain = example test")?.line == 1)
    }
}
