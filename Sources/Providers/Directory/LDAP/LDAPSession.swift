internal import CLDAP
internal import CResolverLimits
import PolicyFormats

#if canImport(Glibc)
import Glibc
#endif

/// One connection to one domain controller through OpenLDAP's libldap: the only place that calls libldap.
///
/// Each C call has one small wrapper here that turns its result code into ``LDAPError``; no libldap type
/// leaves this file. A session is made, used and released inside one blocking job (``LDAPDirectoryReader``
/// runs it off the cooperative pool), so it is not `Sendable`. Every operation waits at most
/// `operationTimeout` and never past `deadline`: libldap applies no timeout by default, and a DC that
/// accepts the connection and never answers would otherwise block forever (labs/samba-ad FINDINGS §5).
final class LDAPSession {
    /// How an LDAP search walks the tree.
    enum Scope: Int32 {
        case base = 0
        case oneLevel = 1
        case subtree = 2
    }

    /// The URI connected to (`ldap://dc1.example.test`).
    let uri: String
    private let handle: OpaquePointer
    private let operationTimeout: Duration
    private let deadline: ContinuousClock.Instant
    /// The LDAP requests sent so far (StartTLS, bind, each page of a search): what a read cost, for
    /// `status`.
    private(set) var requests = 0

    /// Attributes whose values are bytes, never text.
    static let binaryAttributes: Set<String> = ["ipsecdata", "objectguid", "objectsid", "ntsecuritydescriptor"]

    /// Prepares a connection (libldap connects at the first operation).
    /// - Parameters:
    ///   - tlsCAFile: the CA certificates that sign the DC's certificate (LDAPS and StartTLS); `nil`: the
    ///     system's (`TLS_CACERT` of ldap.conf).
    init(
        uri: String,
        operationTimeout: Duration,
        deadline: ContinuousClock.Instant,
        tlsCAFile: String? = nil
    ) throws(LDAPError) {
        self.uri = uri
        self.operationTimeout = operationTimeout
        self.deadline = deadline
        var made: OpaquePointer?
        let result = ldap_initialize(&made, uri)
        guard result == LDAPError.success, let made else {
            throw LDAPError(operation: "connect to \(uri)", code: result, message: Self.text(result))
        }
        handle = made
        var version: Int32 = 3
        try setOption(LDAP_OPT_PROTOCOL_VERSION, &version, "protocol version")
        try setOption(LDAP_OPT_REFERRALS, cldap_opt_off(), "referrals")
        // The Kerberos service name is ldap/<host in the URI>: no reverse lookup of the DC's address
        // (a DC's DNS often has no PTR zone, FINDINGS §4).
        try setOption(LDAP_OPT_X_SASL_NOCANON, cldap_opt_on(), "SASL host canonicalisation")
        // A GSSAPI bind must seal the connection, as Windows' IPsec client does ([MS-GPIPSEC] §2.1).
        try setOption(LDAP_OPT_X_SASL_SECPROPS, "minssf=56", "SASL security properties")
        var network = Self.timeval(operationTimeout)
        try setOption(LDAP_OPT_NETWORK_TIMEOUT, &network, "network timeout")
        if let tlsCAFile {
            try setOption(LDAP_OPT_X_TLS_CACERTFILE, tlsCAFile, "TLS CA file")
        }
        var demand = LDAP_OPT_X_TLS_DEMAND
        try setOption(LDAP_OPT_X_TLS_REQUIRE_CERT, &demand, "TLS certificate check")
        var newContext: Int32 = 0
        try setOption(LDAP_OPT_X_TLS_NEWCTX, &newContext, "TLS context")
    }

    deinit {
        // The corresponding C function is `ldap_unbind_ext_s`; it only frees and closes.
        _ = ldap_unbind_ext_s(handle, nil, nil)
    }

    // MARK: - Binding

    /// StartTLS on a plain connection. The corresponding C function is `ldap_start_tls_s`.
    func startTLS() throws(LDAPError) {
        try limitWait("StartTLS")
        requests += 1
        try check(ldap_start_tls_s(handle, nil, nil), "StartTLS with \(uri)")
    }

    /// SASL GSSAPI bind with the process's Kerberos credentials (the computer account's keytab).
    /// The corresponding C function is `ldap_sasl_interactive_bind_s`.
    func bindGSSAPI() throws(LDAPError) {
        try limitWait("bind")
        requests += 1
        try check(cldap_gssapi_bind(handle), "GSSAPI bind to \(uri)")
    }

    /// Simple bind (only over LDAPS or after StartTLS). The corresponding C function is
    /// `ldap_sasl_bind_s` with the simple mechanism.
    func bindSimple(dn: String, password: [UInt8]) throws(LDAPError) {
        try limitWait("bind")
        requests += 1
        var bytes = password
        let result = bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                var credentials = berval(bv_len: ber_len_t(chars.count), bv_val: chars.baseAddress)
                return ldap_sasl_bind_s(handle, dn, nil, &credentials, nil, nil, nil)
            }
        }
        for index in bytes.indices { bytes[index] = 0 }
        try check(result, "simple bind to \(uri) as \(dn)")
    }

    /// The SASL identity the bind used (`CLIENT1$@EXAMPLE.TEST`). The corresponding C function is
    /// `ldap_get_option(LDAP_OPT_X_SASL_USERNAME)`.
    func saslUsername() -> String? {
        var name: UnsafeMutablePointer<CChar>?
        guard ldap_get_option(handle, LDAP_OPT_X_SASL_USERNAME, &name) == LDAPError.success, let name else {
            return nil
        }
        defer { ldap_memfree(name) }
        return String(cString: name)
    }

    /// This end's IPv4 address on the connection (for the site's subnet). The corresponding C functions
    /// are `ldap_get_option(LDAP_OPT_DESC)` and `getsockname`.
    func localIPv4Address() -> UInt32? {
        var descriptor: Int32 = -1
        guard ldap_get_option(handle, LDAP_OPT_DESC, &descriptor) == LDAPError.success, descriptor >= 0 else {
            return nil
        }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0, address.sin_family == sa_family_t(AF_INET) else { return nil }
        return UInt32(bigEndian: address.sin_addr.s_addr)
    }

    // MARK: - Searching

    /// The entry at `dn` with `attributes`, or `nil` when there is no such object.
    func read(_ dn: String, attributes: [String]) throws(LDAPError) -> DirectoryEntry? {
        do throws(LDAPError) {
            return try search(base: dn, scope: .base, filter: "(objectClass=*)", attributes: attributes, paged: false)
                .first
        } catch  where error.isNoSuchObject {
            return nil
        }
    }

    /// A search, in pages of `pageSize` entries (the paged-results control, RFC 2696) so that a large
    /// container does not hit the server's size limit. Attributes the server returns in ranges (AD's
    /// `attr;range=0-1499` for long multi-valued attributes) are completed with further reads.
    func search(
        base: String,
        scope: Scope,
        filter: String,
        attributes: [String],
        paged: Bool = true,
        pageSize: Int32 = 500
    ) throws(LDAPError) -> [DirectoryEntry] {
        var entries: [DirectoryEntry] = []
        var cookie: [UInt8]? = nil
        repeat {
            let page = try searchPage(
                base: base,
                scope: scope,
                filter: filter,
                attributes: attributes,
                page: paged ? (pageSize, cookie ?? []) : nil
            )
            entries += page.entries
            cookie = page.cookie
        } while cookie.map { !$0.isEmpty } ?? false
        for index in entries.indices where entries[index].attributes.contains(where: \.isRanged) {
            entries[index] = try completeRanges(entries[index])
        }
        return entries
    }

    private struct Page {
        var entries: [DirectoryEntry]
        /// The server's paging cookie; empty or `nil` after the last page.
        var cookie: [UInt8]?
    }

    /// One `ldap_search_ext_s` round trip. The corresponding C functions are `ldap_search_ext_s`,
    /// `ldap_create_page_control`, `ldap_parse_result` and `ldap_parse_pageresponse_control`.
    private func searchPage(
        base: String,
        scope: Scope,
        filter: String,
        attributes: [String],
        page: (size: Int32, cookie: [UInt8])?
    ) throws(LDAPError) -> Page {
        let operation = "search \(base)"
        let wait = try limitWait(operation)
        var limit = Self.timeval(wait)
        var names: [UnsafeMutablePointer<CChar>?] = attributes.map { strdup($0) } + [nil]
        defer { for name in names { free(name) } }

        var control: UnsafeMutablePointer<LDAPControl>?
        if let page {
            var cookieBytes = page.cookie
            let made = cookieBytes.withUnsafeMutableBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    var value = berval(bv_len: ber_len_t(chars.count), bv_val: chars.baseAddress)
                    return ldap_create_page_control(handle, page.size, &value, 0, &control)
                }
            }
            try check(made, "\(operation) (paged-results control)")
        }
        defer { if let control { ldap_control_free(control) } }
        var serverControls: [UnsafeMutablePointer<LDAPControl>?] = [control, nil]

        var message: OpaquePointer?
        requests += 1
        let result = serverControls.withUnsafeMutableBufferPointer { controls in
            ldap_search_ext_s(
                handle,
                base,
                scope.rawValue,
                filter,
                &names,
                0,
                control == nil ? nil : controls.baseAddress,
                nil,
                &limit,
                0,
                &message
            )
        }
        defer { if let message { ldap_msgfree(message) } }
        try check(result, operation)
        guard let message else { return Page(entries: [], cookie: nil) }

        var entries: [DirectoryEntry] = []
        var entry = ldap_first_entry(handle, message)
        while let current = entry {
            entries.append(try decodeEntry(current))
            entry = ldap_next_entry(handle, current)
        }
        guard page != nil else { return Page(entries: entries, cookie: nil) }

        var code: Int32 = 0
        var returned: UnsafeMutablePointer<UnsafeMutablePointer<LDAPControl>?>?
        try check(ldap_parse_result(handle, message, &code, nil, nil, nil, &returned, 0), operation)
        defer { if let returned { ldap_controls_free(returned) } }
        try check(code, operation)
        guard let response = ldap_control_find("1.2.840.113556.1.4.319", returned, nil) else {
            return Page(entries: entries, cookie: nil)
        }
        var count: ber_int_t = 0
        var next = berval(bv_len: 0, bv_val: nil)
        try check(ldap_parse_pageresponse_control(handle, response, &count, &next), "\(operation) (paging)")
        defer { if let bytes = next.bv_val { ber_memfree(bytes) } }
        let cookie = next.bv_val.map { pointer in
            Array(UnsafeRawBufferPointer(start: pointer, count: Int(next.bv_len)))
        }
        return Page(entries: entries, cookie: cookie ?? [])
    }

    /// Reads the rest of each ranged attribute (`member;range=0-1499` → `member;range=1500-*` ...).
    private func completeRanges(_ entry: DirectoryEntry) throws(LDAPError) -> DirectoryEntry {
        var result = DirectoryEntry(dn: entry.dn)
        for attribute in entry.attributes {
            guard let range = attribute.range else {
                result.attributes.append(attribute)
                continue
            }
            var values = attribute.values
            var next = range.end.map { $0 + 1 }
            while let start = next {
                let request = "\(range.name);range=\(start)-*"
                guard let more = try read(entry.dn, attributes: [request]),
                    let piece = more.attributes.first(where: { $0.range?.name.lowercased() == range.name.lowercased() })
                else { break }
                values += piece.values
                next = piece.range?.end.map { $0 + 1 }
                if piece.values.isEmpty { break }
            }
            result.attributes.append(DirectoryAttribute(name: range.name, values: values))
        }
        return result
    }

    /// One entry's DN and attributes. The corresponding C functions are `ldap_get_dn`,
    /// `ldap_first_attribute`/`ldap_next_attribute` and `ldap_get_values_len`.
    private func decodeEntry(_ entry: OpaquePointer) throws(LDAPError) -> DirectoryEntry {
        guard let dnPointer = ldap_get_dn(handle, entry) else {
            throw LDAPError(operation: "read an entry's DN", code: -1, message: lastDiagnostic())
        }
        var result = DirectoryEntry(dn: String(cString: dnPointer))
        ldap_memfree(dnPointer)
        var position: OpaquePointer?
        var name = ldap_first_attribute(handle, entry, &position)
        while let current = name {
            let attribute = String(cString: current)
            let binary = Self.binaryAttributes.contains(attribute.split(separator: ";")[0].lowercased())
            var values: [DirectoryValue] = []
            if let list = ldap_get_values_len(handle, entry, current) {
                var index = 0
                while let value = list[index] {
                    let bytes = value.pointee.bv_val.map { pointer in
                        Array(UnsafeRawBufferPointer(start: pointer, count: Int(value.pointee.bv_len)))
                    }
                    values.append(Self.value(bytes ?? [], binary: binary))
                    index += 1
                }
                ldap_value_free_len(list)
            }
            result.attributes.append(DirectoryAttribute(name: attribute, values: values))
            ldap_memfree(current)
            name = ldap_next_attribute(handle, entry, position)
        }
        if let position { ber_free(position, 0) }
        return result
    }

    private static func value(_ bytes: [UInt8], binary: Bool) -> DirectoryValue {
        if !binary, let text = String(validating: bytes, as: UTF8.self) { return .text(text) }
        return .binary(bytes)
    }

    // MARK: - Helpers

    /// Sets `LDAP_OPT_TIMEOUT` to what is left of this operation's allowance and returns it.
    /// - Throws: a timeout error when the read's deadline has passed.
    @discardableResult
    private func limitWait(_ operation: String) throws(LDAPError) -> Duration {
        let left = deadline - ContinuousClock.now
        guard left > .milliseconds(1) else {
            throw LDAPError(
                operation: "\(operation) on \(uri)",
                code: LDAPError.timeout,
                message: "the read took too long"
            )
        }
        let wait = min(left, operationTimeout)
        var limit = Self.timeval(wait)
        try setOption(LDAP_OPT_TIMEOUT, &limit, "operation timeout")
        return wait
    }

    /// The corresponding C function is `ldap_set_option`.
    private func setOption(_ option: Int32, _ value: UnsafeRawPointer?, _ what: String) throws(LDAPError) {
        let result = ldap_set_option(handle, option, value)
        guard result == LDAPError.success else {
            throw LDAPError(operation: "set the \(what) of \(uri)", code: result, message: Self.text(result))
        }
    }

    private func setOption(_ option: Int32, _ value: String, _ what: String) throws(LDAPError) {
        let result = value.withCString { ldap_set_option(handle, option, $0) }
        guard result == LDAPError.success else {
            throw LDAPError(operation: "set the \(what) of \(uri)", code: result, message: Self.text(result))
        }
    }

    private func check(_ result: Int32, _ operation: String) throws(LDAPError) {
        guard result != LDAPError.success else { return }
        var message = Self.text(result)
        let diagnostic = lastDiagnostic()
        if !diagnostic.isEmpty, diagnostic != message { message += " (\(diagnostic))" }
        throw LDAPError(operation: operation, code: result, message: message)
    }

    /// The server's or libldap's diagnostic text for the last operation.
    private func lastDiagnostic() -> String {
        var text: UnsafeMutablePointer<CChar>?
        guard ldap_get_option(handle, LDAP_OPT_DIAGNOSTIC_MESSAGE, &text) == LDAPError.success, let text else {
            return ""
        }
        defer { ldap_memfree(text) }
        return String(cString: text).trimmingNewlines
    }

    /// The corresponding C function is `ldap_err2string`.
    static func text(_ code: Int32) -> String { String(cString: ldap_err2string(code)) }

    static func timeval(_ duration: Duration) -> Glibc.timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}

/// DNS lookups for the DC locator, with the resolver's limits set for the calling thread only.
enum LDAPLocator {
    /// The hosts of `_ldap._tcp.<name>` (priority order, `host:port`). The corresponding C function is
    /// `ldap_domain2hostlist`.
    static func serviceHosts(_ name: String) throws(LDAPError) -> [String] {
        var list: UnsafeMutablePointer<CChar>?
        let result = ldap_domain2hostlist(name, &list)
        guard result == LDAPError.success, let list else {
            throw LDAPError(
                operation: "DNS SRV lookup of _ldap._tcp.\(name)",
                code: result,
                message: LDAPSession.text(result)
            )
        }
        defer { ldap_memfree(list) }
        return String(cString: list).split(separator: " ").map(String.init)
    }

    /// Runs `body` with this thread's resolver limited to `seconds` per try and `attempts` tries, then
    /// restores the thread's previous limits. The corresponding C functions are `res_init` and the
    /// thread's `_res`.
    static func withResolverLimits<T>(seconds: Int, attempts: Int, _ body: () -> T) -> T {
        var previous = cresolver_limits()
        let changed = cresolver_set_limits(Int32(max(seconds, 1)), Int32(max(attempts, 1)), &previous) == 0
        defer { if changed { cresolver_restore_limits(&previous) } }
        return body()
    }
}

extension DirectoryAttribute {
    /// `name;range=start-end` (end `nil` for `*`) of a ranged attribute.
    fileprivate var range: (name: String, end: Int?)? {
        let parts = name.split(separator: ";")
        guard let option = parts.dropFirst().first(where: { $0.lowercased().hasPrefix("range=") }),
            let dash = option.firstIndex(of: "-")
        else { return nil }
        let end = option[option.index(after: dash)...]
        return (String(parts[0]), end == "*" ? nil : Int(end))
    }

    fileprivate var isRanged: Bool { range != nil }
}

extension String {
    fileprivate var trimmingNewlines: String {
        var text = Substring(self)
        while let last = text.last, last == "\n" || last == "\r" || last == " " { text = text.dropLast() }
        return String(text)
    }
}
