import IPsecSystem
public import PolicyFormats

#if canImport(Glibc)
import Glibc
#endif

/// The live directory (`directory = ldap`): reads this computer's Group Policy objects and its assigned
/// IPsec policy from a domain controller, as the computer account, the way Windows' Group Policy and
/// IPsec client do ([MS-GPOL] §3.2.5.1, [MS-GPIPSEC] §3.2.5.3).
///
/// Each call connects to the first domain controller that answers (configured list or DNS SRV, the one
/// that answered last tried first), binds, reads and disconnects, on a thread of its own: never on the
/// cooperative pool. Every network and DNS operation has a timeout and the whole read a deadline, so a DC
/// that accepts the connection and never answers costs at most the timeout per DC.
public struct LDAPDirectoryReader: DirectoryReader {
    public let configuration: LDAPDirectoryConfiguration
    /// Overrides the account lookup (`computer_dn`).
    public let computerDN: String?
    /// The configured site (name or DN); `nil`: the site whose subnet holds this computer's address.
    public let site: String?
    private let state = Locked<String?>(nil)

    public init(configuration: LDAPDirectoryConfiguration, computerDN: String? = nil, site: String? = nil) {
        self.configuration = configuration
        self.computerDN = computerDN
        self.site = site
    }

    public var sourceDescription: String { "LDAP, domain \(configuration.domain)" }

    /// The domain controller that answered last.
    public var lastServer: String? { state.value }

    public func read(
        assignedPolicy: @escaping @Sendable (DirectoryRead) -> String?
    ) async throws(DirectoryReadError)
        -> DirectoryRead
    {
        let computerDN = self.computerDN
        let site = self.site
        return try await session { (read) throws(DirectoryReadError) in
            var result = try read.groupPolicy(computerDN: computerDN, site: site)
            if let policyDN = assignedPolicy(result) {
                result.entries += try read.policyObjects(policyDN)
            }
            result.requests = read.session.requests
            return result
        }
    }

    public func readPolicyObjects(_ policyDN: String) async throws(DirectoryReadError) -> [DirectoryEntry] {
        try await session { (read) throws(DirectoryReadError) in try read.policyObjects(policyDN) }
    }

    public func changeStamps(of dns: [String]) async throws(DirectoryReadError) -> [String: String] {
        try await session { (read) throws(DirectoryReadError) in
            var stamps: [String: String] = [:]
            for entry in try read.objects(dns, attributes: ["whenChanged"]) {
                stamps[DN.normalize(entry.dn)] = entry.string("whenChanged") ?? ""
            }
            return stamps
        }
    }

    /// Connects and binds (trying the DCs in order), runs `body`, disconnects; on the directory thread.
    private func session<T: Sendable>(
        _ body: @escaping @Sendable (LDAPRead) throws(DirectoryReadError) -> T
    ) async throws(DirectoryReadError) -> T {
        let configuration = self.configuration
        let state = self.state
        let result: Result<T, DirectoryReadError> = await BlockingPool.shared.run {
            let deadline = ContinuousClock.now + configuration.readDeadline
            let seconds = Int(configuration.timeout.components.seconds)
            return LDAPLocator.withResolverLimits(seconds: seconds, attempts: 1) {
                () -> Result<T, DirectoryReadError> in
                let read: LDAPRead
                do throws(DirectoryReadError) {
                    read = try LDAPRead.connect(configuration, preferred: state.value, deadline: deadline)
                } catch {
                    return .failure(error)
                }
                state.update { $0 = read.session.uri }
                do throws(DirectoryReadError) {
                    return .success(try body(read))
                } catch {
                    return .failure(error)
                }
            }
        }
        return try result.get()
    }
}

/// One connected, bound session and the reads Group Policy makes on it.
struct LDAPRead {
    let session: LDAPSession
    let configuration: LDAPDirectoryConfiguration
    /// The identity the bind used (`CLIENT1$@EXAMPLE.TEST`), for finding the computer object.
    let boundAs: String?

    var server: String { session.uri }

    /// Tries each DC in order (`preferred` first) until one connects and accepts the bind.
    /// - Throws: ``DirectoryReadError`` (`unavailable`) naming every DC tried and why it failed.
    static func connect(
        _ configuration: LDAPDirectoryConfiguration,
        preferred: String?,
        deadline: ContinuousClock.Instant
    ) throws(DirectoryReadError) -> LDAPRead {
        var uris: [String]
        if configuration.domainControllers.isEmpty {
            do {
                uris = configuration.uris(hosts: try LDAPLocator.serviceHosts("dc._msdcs." + configuration.domain))
            } catch {
                throw DirectoryReadError(
                    .unavailable,
                    "no domain controller of \(configuration.domain) was found: \(error.description)"
                )
            }
        } else {
            uris = configuration.uris(hosts: configuration.domainControllers)
        }
        if let preferred, let index = uris.firstIndex(of: preferred) { uris.insert(uris.remove(at: index), at: 0) }
        KerberosEnvironment.prepare(configuration.bind)

        var failures: [String] = []
        for uri in uris {
            do {
                let session = try LDAPSession(
                    uri: uri,
                    operationTimeout: configuration.timeout,
                    deadline: deadline,
                    tlsCAFile: configuration.tlsCAFile
                )
                if configuration.transport == .startTLS { try session.startTLS() }
                switch configuration.bind {
                case .gssapi:
                    try session.bindGSSAPI()
                    return LDAPRead(session: session, configuration: configuration, boundAs: session.saslUsername())
                case .simple(let dn, let passwordFile):
                    let password = try Self.password(passwordFile)
                    try session.bindSimple(dn: dn, password: password)
                    return LDAPRead(session: session, configuration: configuration, boundAs: dn)
                }
            } catch {
                failures.append(
                    error.isTimeout ? "\(error.operation): no answer within the timeout" : error.description
                )
                if ContinuousClock.now >= deadline { break }
            }
        }
        throw DirectoryReadError(
            .unavailable,
            "no domain controller of \(configuration.domain) could be read: \(failures.joined(separator: "; "))"
        )
    }

    /// The simple bind's password: the file's first line.
    private static func password(_ path: String) throws(LDAPError) -> [UInt8] {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.read(path, limit: 4096, accept: .regularFiles)
        } catch {
            throw LDAPError(operation: "read the bind password file", code: -1, message: error.description)
        }
        return Array(bytes.prefix { $0 != 0x0A && $0 != 0x0D })
    }

    // MARK: - What Group Policy reads

    /// The computer object, the containers above it up to the domain, the site, the linked GPOs and their
    /// IPsec assignment objects ([MS-GPOL] §3.2.5.1: the SOMs and their gPLink/gPOptions, then each GPO).
    func groupPolicy(
        computerDN override: String?,
        site configuredSite: String?
    ) throws(DirectoryReadError)
        -> DirectoryRead
    {
        let root = try attempt("read the root DSE") { () throws(LDAPError) in
            try session.read("", attributes: ["defaultNamingContext", "configurationNamingContext"])
        }
        guard let domainNC = root?.string("defaultNamingContext") else {
            throw DirectoryReadError(.unavailable, server: server, "\(server) names no defaultNamingContext")
        }
        let configurationNC = root?.string("configurationNamingContext") ?? "CN=Configuration,\(domainNC)"

        var entries: [DirectoryEntry] = []
        let computer = try findComputer(override, domainNC: domainNC)
        entries.append(computer)

        // The OUs (and other containers) from the computer up, then the domain.
        var containers: [DirectoryEntry] = []
        var parent = DN.parent(computer.dn)
        while let dn = parent {
            if let entry = try readEntry(dn, attributes: ["objectClass", "gPLink", "gPOptions", "whenChanged"]) {
                containers.append(entry)
            }
            if DN.normalize(dn) == DN.normalize(domainNC) { break }
            parent = DN.parent(dn)
        }
        var site: String?
        if let siteDN = try siteDN(configuredSite, configurationNC: configurationNC),
            let entry = try readEntry(siteDN, attributes: ["objectClass", "cn", "gPLink", "gPOptions", "whenChanged"])
        {
            containers.append(entry)
            site = entry.dn
        }
        entries += containers

        // Every GPO linked there (disabled and blocked links included: the resolver decides) and its
        // IPsec assignment object ([MS-GPIPSEC] §2.2.2: a base read of CN=ipsec,…,CN=Machine,<GPO>).
        var gpos: [String] = []
        for container in containers {
            for text in container.strings("gPLink") {
                do {
                    for link in try GroupPolicyLink.parse(text, file: server, location: container.dn)
                    where !gpos.contains(where: { DN.normalize($0) == DN.normalize(link.gpoDN) }) {
                        gpos.append(link.gpoDN)
                    }
                } catch {
                    throw DirectoryReadError(.invalid, server: server, error.description)
                }
            }
        }
        for gpo in gpos {
            let attributes = ["objectClass", "displayName", "flags", "versionNumber", "gPCMachineExtensionNames"]
            guard let entry = try readEntry(gpo, attributes: attributes + ["whenChanged"]) else { continue }
            entries.append(entry)
            let assignment = GroupPolicyResolver.assignmentDN(forGPO: entry.dn)
            let assignmentAttributes = [
                "objectClass", "ipsecOwnersReference", "ipsecName", "description", "whenChanged",
            ]
            if let entry = try readEntry(assignment, attributes: assignmentAttributes) { entries.append(entry) }
        }
        return DirectoryRead(entries: entries, computerDN: computer.dn, site: site, server: server)
    }

    /// The computer object: the configured DN, else the account the bind used (`CLIENT1$`), else the host
    /// name's account.
    private func findComputer(_ override: String?, domainNC: String) throws(DirectoryReadError) -> DirectoryEntry {
        let attributes = ["objectClass", "sAMAccountName", "whenChanged"]
        if let override {
            guard let entry = try readEntry(override, attributes: attributes) else {
                throw DirectoryReadError(
                    .unavailable,
                    server: server,
                    "the computer \(override) is not in the directory"
                )
            }
            return entry
        }
        let account = Self.accountName(boundAs: boundAs)
        let filter = "(&(objectClass=computer)(sAMAccountName=\(LDAPFilter.escape(account))))"
        let found = try attempt("find the computer account \(account)") { () throws(LDAPError) in
            try session.search(base: domainNC, scope: .subtree, filter: filter, attributes: attributes, paged: false)
        }
        guard let entry = found.first else {
            throw DirectoryReadError(
                .unavailable,
                server: server,
                "the computer account \(account) is not in the directory \(domainNC) on \(server)"
            )
        }
        return entry
    }

    /// `CLIENT1$` from `CLIENT1$@EXAMPLE.TEST` or `EXAMPLE\CLIENT1$`; otherwise this host's short name.
    static func accountName(boundAs: String?) -> String {
        if var name = boundAs {
            if let at = name.firstIndex(of: "@") { name = String(name[..<at]) }
            if let slash = name.lastIndex(of: "\\") { name = String(name[name.index(after: slash)...]) }
            if name.hasSuffix("$"), !name.contains("=") { return name }
        }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = gethostname(&buffer, buffer.count - 1)
        let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let short = host.split(separator: ".").first.map(String.init) ?? host
        // NetBIOS names are at most 15 characters.
        return String(short.uppercased().prefix(15)) + "$"
    }

    /// The site's DN: configured by name or DN, else the site of the subnet object that holds this end's
    /// address (the longest prefix wins), as the DC locator assigns sites; `nil` when none matches.
    private func siteDN(_ configured: String?, configurationNC: String) throws(DirectoryReadError) -> String? {
        if let configured {
            return configured.contains("=") ? configured : "CN=\(configured),CN=Sites,\(configurationNC)"
        }
        guard let address = session.localIPv4Address() else { return nil }
        let subnets = try attempt("read the subnets") { () throws(LDAPError) in
            do throws(LDAPError) {
                return try session.search(
                    base: "CN=Subnets,CN=Sites,\(configurationNC)",
                    scope: .oneLevel,
                    filter: "(objectClass=subnet)",
                    attributes: ["cn", "siteObject"]
                )
            } catch  where error.isNoSuchObject {
                return []
            }
        }
        var best: (length: Int, site: String)?
        for subnet in subnets {
            guard let name = subnet.string("cn"), let site = subnet.string("siteObject"),
                let (network, length) = Self.prefix(name), length >= (best?.length ?? -1)
            else { continue }
            let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << (32 - UInt32(length))
            if address & mask == network & mask { best = (length, site) }
        }
        return best?.site
    }

    /// `198.19.7.0/24` → (network, 24).
    static func prefix(_ text: String) -> (UInt32, Int)? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let length = Int(parts[1]), (0...32).contains(length) else { return nil }
        let octets = parts[0].split(separator: ".").compactMap { UInt32($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 < 256 }) else { return nil }
        return (octets.reduce(0) { $0 << 8 | $1 }, length)
    }

    // MARK: - The policy's objects

    /// The policy and every object it references, as the one resolver
    /// (``IPsecObjectReferences/closure(of:lookup:)``) walks them over what has been read so far.
    ///
    /// The policy is read first. When it references more than ``batch`` objects (a policy of many rules),
    /// its container (`CN=IP Security`) is fetched in one paged search and the references are resolved in
    /// memory: one search is what `ldapsearch` makes, where reading by class layer by layer took two
    /// (Samba, 2,004 objects: 1.23-1.55 x ldapsearch). A small policy is read layer by layer by name, so a
    /// container of many policies costs it nothing. Objects the search did not return (another container,
    /// a class the account may not read) are read by name, layer by layer, so that errors name them.
    /// - Throws: `invalid` naming the first object of the policy (in reading order) that came back without
    ///   `ipsecData` (the account may not read it).
    func policyObjects(_ policyDN: String) throws(DirectoryReadError) -> [DirectoryEntry] {
        var known: [String: DirectoryEntry] = [:]
        var tried: Set<String> = []
        var searchedContainer = false
        while true {
            let order = IPsecObjectReferences.closure(of: policyDN) { known[DN.normalize($0)] }
            let missing = order.filter {
                let key = DN.normalize($0)
                return known[key] == nil && tried.insert(key).inserted
            }
            if missing.isEmpty {
                let entries = order.compactMap { known[DN.normalize($0)] }
                if let unreadable = entries.first(where: { $0.attribute("ipsecData") == nil }) {
                    throw DirectoryReadError(
                        .invalid,
                        server: server,
                        "\(unreadable.dn) was read from \(server) without its ipsecData: the computer account may "
                            + "not read the IP Security objects (Windows grants Authenticated Users read on "
                            + "CN=IP Security,CN=System; see docs/policy-sources.md)"
                    )
                }
                return entries
            }
            // `missing` holds more than the policy only once the policy has been read.
            if !searchedContainer, missing.count > Self.batch, let container = DN.parent(policyDN) {
                searchedContainer = true
                let all = try search(
                    container,
                    filter: "(objectClass=ipsecBase)",
                    attributes: IPsecObjectReferences.attributes
                )
                for entry in all {
                    let key = DN.normalize(entry.dn)
                    if known[key] == nil { known[key] = entry }
                }
                // What the search did not return is read by name at the next turn.
                tried.subtract(missing.map(DN.normalize))
                continue
            }
            for entry in try objects(missing, attributes: IPsecObjectReferences.attributes) {
                known[DN.normalize(entry.dn)] = entry
            }
        }
    }

    /// The objects at `dns` that exist: a base read each for a few, otherwise searches of their
    /// containers (``objects(named:in:attributes:)``).
    func objects(_ dns: [String], attributes: [String]) throws(DirectoryReadError) -> [DirectoryEntry] {
        guard dns.count > 3 else {
            var found: [DirectoryEntry] = []
            for dn in dns {
                if let entry = try readEntry(dn, attributes: attributes) { found.append(entry) }
            }
            return found
        }
        var byParent: [(parent: String, names: [String])] = []
        var singles: [String] = []
        for dn in dns {
            guard let parsed = DistinguishedName(dn), let first = parsed.rdns.first,
                first.type.lowercased() == "cn", let parent = DN.parent(dn)
            else {
                singles.append(dn)
                continue
            }
            if let index = byParent.firstIndex(where: { DN.normalize($0.parent) == DN.normalize(parent) }) {
                byParent[index].names.append(first.value)
            } else {
                byParent.append((parent, [first.value]))
            }
        }
        var found: [DirectoryEntry] = []
        for dn in singles {
            if let entry = try readEntry(dn, attributes: attributes) { found.append(entry) }
        }
        for group in byParent {
            found += try objects(named: group.names, in: group.parent, attributes: attributes)
        }
        return found
    }

    /// The objects named `names` (RDN values) directly under `parent`. Up to ``batch`` names: one
    /// search for them by name. More (a policy's thousand rules): one paged search of the container by
    /// their classes, keeping the named ones, because a directory answers that faster than long OR
    /// filters (Samba: 1,000 rules by class in 0.6 s, by name in 1.8 s). Named objects that such a
    /// search does not return (an object whose class the account may not read) are read one by one,
    /// so that the error names them.
    private func objects(
        named names: [String],
        in parent: String,
        attributes: [String]
    ) throws(DirectoryReadError)
        -> [DirectoryEntry]
    {
        let classes = Set(names.compactMap { WindowsObjectName($0)?.objectClass.rawValue })
        var found: [DirectoryEntry] = []
        if names.count > Self.batch, !classes.isEmpty {
            let terms = classes.sorted().map { "(objectClass=\($0))" }
            let filter = terms.count == 1 ? terms[0] : "(|" + terms.joined() + ")"
            let wanted = Set(names.map { $0.lowercased() })
            var seen: Set<String> = []
            for entry in try search(parent, filter: filter, attributes: attributes) {
                guard let name = DistinguishedName(entry.dn)?.rdns.first?.value.lowercased(), wanted.contains(name)
                else { continue }
                seen.insert(name)
                found.append(entry)
            }
            for name in names where !seen.contains(name.lowercased()) {
                if let entry = try readEntry("CN=\(name),\(parent)", attributes: attributes) { found.append(entry) }
            }
            return found
        }
        var start = 0
        while start < names.count {
            let chunk = names[start..<min(start + Self.batch, names.count)]
            let filter = "(|" + chunk.map { "(cn=\(LDAPFilter.escape($0)))" }.joined() + ")"
            found += try search(parent, filter: filter, attributes: attributes)
            start += Self.batch
        }
        return found
    }

    /// A paged one-level search of `parent`; a missing container finds nothing.
    private func search(
        _ parent: String,
        filter: String,
        attributes: [String]
    ) throws(DirectoryReadError)
        -> [DirectoryEntry]
    {
        try attempt("read the objects in \(parent)") { () throws(LDAPError) in
            do throws(LDAPError) {
                return try session.search(
                    base: parent,
                    scope: .oneLevel,
                    filter: filter,
                    attributes: attributes,
                    pageSize: Int32(configuration.pageSize)
                )
            } catch  where error.isNoSuchObject {
                return []
            }
        }
    }

    /// Most names in one search's OR filter.
    static let batch = 50

    // MARK: - Helpers

    private func readEntry(_ dn: String, attributes: [String]) throws(DirectoryReadError) -> DirectoryEntry? {
        try attempt("read \(dn)") { () throws(LDAPError) in try session.read(dn, attributes: attributes) }
    }

    /// Runs one libldap operation; its failure becomes a ``DirectoryReadError`` naming the DC.
    private func attempt<T>(_ what: String, _ body: () throws(LDAPError) -> T) throws(DirectoryReadError) -> T {
        do {
            return try body()
        } catch {
            let reason = error.isTimeout ? "no answer within the timeout" : error.message
            throw DirectoryReadError(.unavailable, server: server, "\(what) on \(server): \(reason)")
        }
    }
}

/// RFC 4515 escaping of a value in a search filter: the five special bytes as `\xx`, every other byte
/// (UTF-8 included) as it is.
enum LDAPFilter {
    static func escape(_ value: String) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "*"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "\\"), 0:
                out += [UInt8(ascii: "\\"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            default:
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The Kerberos settings of the process for a GSSAPI bind: MIT krb5 fetches the computer account's
/// ticket from the keytab by itself (`KRB5_CLIENT_KTNAME`) into a credential cache in memory that only
/// this process sees (`KRB5CCNAME=MEMORY:`), so no `kinit` and no cache file are needed.
enum KerberosEnvironment {
    private static let prepared = Locked<String?>(nil)

    static func prepare(_ bind: LDAPDirectoryConfiguration.Bind) {
        guard case .gssapi(let keytab) = bind else { return }
        prepared.update { current in
            guard current != keytab else { return }
            setenv("KRB5_CLIENT_KTNAME", keytab, 1)
            setenv("KRB5CCNAME", "MEMORY:ipsecsvc-directory", 1)
            current = keytab
        }
    }
}
