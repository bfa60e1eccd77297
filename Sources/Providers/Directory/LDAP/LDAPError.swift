/// A failed libldap operation: what was attempted, libldap's result code and its text (with the server's
/// diagnostic when it sent one).
struct LDAPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `LDAP_SUCCESS`.
    static let success: Int32 = 0
    /// `LDAP_SERVER_DOWN`: the connection failed or was lost.
    static let serverDown: Int32 = -1
    /// `LDAP_TIMEOUT`: no answer within the operation's time.
    static let timeout: Int32 = -5
    /// `LDAP_CONNECT_ERROR`.
    static let connectError: Int32 = -11
    /// `LDAP_NO_SUCH_OBJECT`.
    static let noSuchObject: Int32 = 32

    /// `search CN=…`, `GSSAPI bind to ldap://dc1.example.test`, …
    var operation: String
    var code: Int32
    var message: String

    var description: String { "\(operation): \(message)" }

    var isNoSuchObject: Bool { code == Self.noSuchObject }
    var isTimeout: Bool { code == Self.timeout }
    /// The DC could not be reached at all (as opposed to refusing or failing a request).
    var isConnectionFailure: Bool { code == Self.serverDown || code == Self.connectError || code == Self.timeout }
}
