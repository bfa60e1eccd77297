import PolicyModel

/// One IPsec object as Windows stores it, whether as a registry key or a directory entry: the
/// attributes of windows-ipsec.md §1.2 with references still in their stored text form.
///
/// Registry and directory readers build these, ``StoreAssembler`` turns a set of them into a
/// ``PolicyStore``, and ``StoreDisassembler`` does the reverse for the writers.
struct StoredObject: Sendable {
    var name: WindowsObjectName
    /// The registry key path or DN, used in error messages.
    var location: String
    /// The line of the key or entry in the file.
    var line: Int?
    /// `ipsecID`, when stored (it should equal the name's GUID).
    var ipsecID: String?
    var ipsecName: String?
    var description: String?
    var whenChanged: Int64?
    var dataType: UInt32?
    var data: [UInt8]?
    /// Reference attributes by lower-cased name (`ipsecnfareference`), values in stored order.
    var references: [String: [String]] = [:]
    var negotiationPolicyAction: String?
    var negotiationPolicyType: String?
    /// Lines of individual attributes, for errors (lower-cased attribute name).
    var fieldLines: [String: Int] = [:]

    init(name: WindowsObjectName, location: String, line: Int? = nil) {
        self.name = name
        self.location = location
        self.line = line
    }

    func line(of field: String) -> Int? { fieldLines[field.lowercased()] ?? line }

    func blobContext(file: String) -> BlobContext {
        BlobContext(file: file, object: location, line: line(of: "ipsecData"))
    }
}

/// The reference attributes (windows-ipsec.md §1.2).
enum ReferenceAttribute {
    static let isakmp = "ipsecISAKMPReference"
    static let nfa = "ipsecNFAReference"
    static let negotiationPolicy = "ipsecNegotiationPolicyReference"
    static let filter = "ipsecFilterReference"
    static let owners = "ipsecOwnersReference"
}
