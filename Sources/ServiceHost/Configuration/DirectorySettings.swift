/// `directory` in ipsecsvc.conf: where directory (Group Policy) IPsec policy comes from.
public enum DirectoryMode: String, Hashable, Sendable, Codable {
    /// A domain controller over LDAP, as the computer account (docs/policy-sources.md §4).
    case ldap
    /// A directory snapshot file (LDIF or DSMLv2): offline use, tests, support cases.
    case snapshot
    /// No directory: the cached copy is never used.
    case none
}

/// The live directory's keys in ipsecsvc.conf.
public struct LDAPSettings: Hashable, Sendable, Codable {
    /// How the service binds.
    public enum Bind: String, Hashable, Sendable, Codable {
        /// SASL GSSAPI with the computer account's keytab (the default, as Windows does).
        case gssapi
        /// A simple bind with a DN and a password file; only over TLS.
        case simple
    }

    /// How a simple bind's connection is protected.
    public enum TLS: String, Hashable, Sendable, Codable {
        case none
        case starttls
        case ldaps
    }

    static let keys: Set<String> = [
        "domain", "domain_controllers", "keytab", "ldap_timeout_seconds", "ldap_page_size", "ldap_bind",
        "ldap_bind_dn", "ldap_bind_password_file", "ldap_tls", "ldap_tls_ca_file",
    ]

    /// The DNS domain (`example.com`).
    public var domain: String?
    /// Tried in order; empty: the DNS SRV records `_ldap._tcp.dc._msdcs.<domain>`.
    public var domainControllers: [String] = []
    public var keytab = "/etc/krb5.keytab"
    public var timeoutSeconds = 10
    /// Entries per page of a paged search: each page must arrive within the timeout, so a slow link
    /// wants smaller pages. Active Directory caps a page at its MaxPageSize (1,000).
    public var pageSize = 500
    public var bind = Bind.gssapi
    public var bindDN: String?
    public var bindPasswordFile: String?
    public var tls = TLS.none
    public var tlsCAFile: String?

    public init() {}

    mutating func apply(
        _ key: String,
        _ value: String,
        bad: (String) -> ConfigurationError,
        path: () throws(ConfigurationError) -> String,
        integer: (ClosedRange<Int>) throws(ConfigurationError) -> Int
    ) throws(ConfigurationError) {
        switch key {
        case "domain":
            guard !value.isEmpty, !value.contains(" "), !value.contains("=") else {
                throw bad("a DNS domain name such as example.com")
            }
            domain = value
        case "domain_controllers":
            domainControllers = value.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
            guard !domainControllers.isEmpty else { throw bad("host names, host:port or ldap[s]:// URIs") }
        case "keytab": keytab = try path()
        case "ldap_timeout_seconds": timeoutSeconds = try integer(1...300)
        case "ldap_page_size": pageSize = try integer(1...1000)
        case "ldap_bind":
            guard let mode = Bind(rawValue: value) else { throw bad("gssapi or simple") }
            bind = mode
        case "ldap_bind_dn":
            guard !value.isEmpty else { throw bad("a DN or user@domain") }
            bindDN = value
        case "ldap_bind_password_file": bindPasswordFile = try path()
        case "ldap_tls":
            guard let mode = TLS(rawValue: value) else { throw bad("none, starttls or ldaps") }
            tls = mode
        case "ldap_tls_ca_file": tlsCAFile = try path()
        default: break
        }
    }
}

extension ServiceConfiguration {
    /// The directory source in use: `directory`, else a snapshot when `computer_dn` is set, else none.
    public var effectiveDirectoryMode: DirectoryMode {
        directoryMode ?? (computerDN == nil ? .none : .snapshot)
    }

    /// The checks that involve several keys, each naming the line of the key to change.
    func checkDirectory(_ file: KeyValueFile) throws(ConfigurationError) {
        func line(_ key: String) -> Int { file.entries.first { $0.key == key }?.line ?? 0 }
        func fail(_ key: String, _ message: String) -> ConfigurationError {
            ConfigurationError(path: file.path, line: line(key), message: message)
        }
        switch effectiveDirectoryMode {
        case .none:
            return
        case .snapshot:
            if computerDN == nil {
                throw fail(
                    "directory",
                    "'directory = snapshot' needs 'computer_dn' (this computer's DN in the snapshot)"
                )
            }
        case .ldap:
            if ldap.domain == nil {
                throw fail("directory", "'directory = ldap' needs 'domain' (the DNS domain, such as example.com)")
            }
            switch ldap.bind {
            case .gssapi:
                if ldap.tls != .none {
                    throw fail(
                        "ldap_tls",
                        "a GSSAPI bind seals the connection itself; 'ldap_tls' is for 'ldap_bind = simple'"
                    )
                }
            case .simple:
                if ldap.bindDN == nil || ldap.bindPasswordFile == nil {
                    throw fail("ldap_bind", "'ldap_bind = simple' needs 'ldap_bind_dn' and 'ldap_bind_password_file'")
                }
                if ldap.tls == .none {
                    throw fail("ldap_bind", "a simple bind sends a password: set 'ldap_tls = starttls' or 'ldaps'")
                }
            }
        }
    }
}
