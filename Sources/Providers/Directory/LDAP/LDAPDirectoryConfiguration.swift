/// How the live directory reader reaches the domain (`directory = ldap` in `ipsecsvc.conf`).
public struct LDAPDirectoryConfiguration: Hashable, Sendable {
    /// How the reader authenticates.
    public enum Bind: Hashable, Sendable {
        /// SASL GSSAPI as the computer account, from its keytab (Windows' way: Kerberos, LDAP signed and
        /// sealed on port 389).
        case gssapi(keytab: String)
        /// A simple bind with a DN (or `user@domain`) and the password in a file; only over TLS.
        case simple(dn: String, passwordFile: String)
    }

    /// How the connection is protected.
    public enum Transport: String, Hashable, Sendable {
        /// Port 389; with GSSAPI the SASL layer seals it.
        case plain
        /// StartTLS on port 389.
        case startTLS = "starttls"
        /// LDAP over TLS, port 636.
        case ldaps
    }

    /// The DNS domain (`example.test`): the DC locator asks `_ldap._tcp.dc._msdcs.<domain>`.
    public var domain: String
    /// Domain controllers to try in order (`dc1.example.test`, `dc2.example.test:3389`,
    /// `ldaps://dc3.example.test`); empty: the DNS SRV records.
    public var domainControllers: [String]
    public var bind: Bind
    public var transport: Transport
    /// CA certificates for the DC's certificate (LDAPS and StartTLS).
    public var tlsCAFile: String?
    /// Each network connect, bind and search (one page), and each DNS try, waits at most this long.
    public var timeout: Duration
    /// Entries per page of a paged search.
    public var pageSize: Int

    public init(
        domain: String,
        domainControllers: [String] = [],
        bind: Bind = .gssapi(keytab: "/etc/krb5.keytab"),
        transport: Transport = .plain,
        tlsCAFile: String? = nil,
        timeout: Duration = .seconds(10),
        pageSize: Int = 500
    ) {
        self.domain = domain
        self.domainControllers = domainControllers
        self.bind = bind
        self.transport = transport
        self.tlsCAFile = tlsCAFile
        self.timeout = timeout
        self.pageSize = pageSize
    }

    /// A whole read (every DC tried, every search) gives up after this long.
    public var readDeadline: Duration { timeout * 6 }

    /// The LDAP URIs of the configured domain controllers, or of the hosts the SRV lookup returned
    /// (`host:port`), in order.
    func uris(hosts: [String]) -> [String] {
        hosts.map { host in
            if host.contains("://") { return host }
            var name = host
            var port: String?
            if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") {
                name = String(host[..<colon])
                port = String(host[host.index(after: colon)...])
            }
            switch transport {
            case .ldaps:
                // The SRV records give the plain port; LDAPS listens on 636.
                return "ldaps://\(name):\(port == nil || port == "389" ? "636" : port!)"
            case .plain, .startTLS:
                return "ldap://\(name)\(port == nil || port == "389" ? "" : ":\(port!)")"
            }
        }
    }
}
