import FoundationEssentials
public import PolicyModel

/// The stable JSON rendering of a store for scripts (`policy show --json`); docs/cli.md describes
/// the shape.
///
/// The shape is its own set of types rather than the model's `Codable` form: the model may grow
/// and rename internally, this document only grows (new keys), and it spells values the way the
/// text listing and netsh do (`"3DES-SHA1-2"`, `"ESP[3DES,SHA1]"`, `"TCP"`). Keys are sorted and
/// absent values are omitted, so the same store always gives the same bytes.
public enum PolicyListingJSON {
    /// Bumped only when a key changes meaning or disappears; new keys keep the version.
    public static let formatVersion = 1

    /// The document as pretty-printed UTF-8 text with sorted keys, ending with a newline.
    public static func text(_ store: PolicyStore) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Every value is a string, number, bool, array or object of those: encoding cannot fail.
        let data = try! encoder.encode(StoreDocument(store))
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

struct StoreDocument: Encodable {
    var formatVersion = PolicyListingJSON.formatVersion
    var assignedPolicyID: String?
    var policies: [PolicyDocument]
    var filterLists: [FilterListDocument]
    var filterActions: [FilterActionDocument]

    init(_ store: PolicyStore) {
        assignedPolicyID = store.assignedPolicyID?.braced
        policies = store.policies.map { PolicyDocument($0, in: store) }
        filterLists = store.filterLists.map(FilterListDocument.init)
        filterActions = store.filterActions.map(FilterActionDocument.init)
    }
}

struct Reference: Encodable {
    var id: String
    /// Absent when the reference dangles.
    var name: String?
}

struct PolicyDocument: Encodable {
    var id: String
    var name: String
    var description: String
    var assigned: Bool
    var whenChanged: Int64?
    var pollingIntervalSeconds: UInt32
    var mainMode: MainModeDocument
    var rules: [RuleDocument]

    init(_ policy: IPsecPolicy, in store: PolicyStore) {
        id = policy.id.braced
        name = policy.name
        description = policy.description
        assigned = store.assignedPolicyID == policy.id
        whenChanged = policy.whenChanged
        pollingIntervalSeconds = policy.pollingIntervalSeconds
        mainMode = MainModeDocument(policy.mainMode)
        rules = policy.rules.map { RuleDocument($0, in: store) }
    }
}

struct MainModeDocument: Encodable {
    struct Method: Encodable {
        var text: String
        var encryption: String
        var hash: String
        var group: Int
        var quickModeLimit: UInt32
        var lifetimeKilobytes: UInt32
        var lifetimeSeconds: UInt32
    }

    var id: String
    var lifetimeSeconds: UInt32
    var quickModeLimit: UInt32
    var masterKeyPFS: Bool
    var certificateToAccountMapping: Bool
    var omitCertificateRequest: Bool
    var securityMethods: [Method]

    init(_ settings: MainModeSettings) {
        id = settings.id.braced
        lifetimeSeconds = settings.lifetimeSeconds
        quickModeLimit = settings.quickModeLimit
        masterKeyPFS = settings.masterKeyPFS
        certificateToAccountMapping = settings.certificateToAccountMapping
        omitCertificateRequest = settings.omitCertificateRequest
        securityMethods = settings.securityMethods.map { method in
            Method(
                text: ListingFormat.mainModeMethod(method),
                encryption: method.encryption.rawValue,
                hash: method.hash.rawValue,
                group: method.group.netshNumber,
                quickModeLimit: method.quickModeLimit,
                lifetimeKilobytes: method.lifetimeKilobytes,
                lifetimeSeconds: method.lifetimeSeconds
            )
        }
    }
}

struct RuleDocument: Encodable {
    struct Authentication: Encodable {
        /// `kerberos`, `psk` or `certificate`.
        var method: String
        var key: String?
        var certificateAuthority: String?
        var certificateToAccountMapping: Bool?
        var excludeCAName: Bool?
    }

    var id: String
    var name: String
    var description: String
    var active: Bool
    var defaultResponse: Bool
    var filterLists: [Reference]
    var filterAction: Reference?
    var authentication: [Authentication]
    var connectionType: String
    var tunnelEndpoint: String?
    var tunnelEndpointName: String?

    init(_ rule: Rule, in store: PolicyStore) {
        id = rule.id.braced
        name = rule.name
        description = rule.description
        active = rule.isActive
        defaultResponse = rule.isDefaultResponse
        filterLists = rule.filterListIDs.map { Reference(id: $0.braced, name: store.filterList(id: $0)?.name) }
        filterAction = rule.filterActionID.map { Reference(id: $0.braced, name: store.filterAction(id: $0)?.name) }
        authentication = rule.authenticationMethods.map { method in
            switch method {
            case .kerberos:
                Authentication(method: "kerberos")
            case .preSharedKey(let key):
                Authentication(method: "psk", key: key)
            case .certificate(let authority):
                Authentication(
                    method: "certificate",
                    certificateAuthority: authority.name,
                    certificateToAccountMapping: authority.certificateToAccountMapping,
                    excludeCAName: authority.excludeCAName
                )
            }
        }
        connectionType = rule.interfaceType.rawValue
        tunnelEndpoint = rule.tunnelEndpoint?.description
        tunnelEndpointName = rule.tunnelEndpointName.isEmpty ? nil : rule.tunnelEndpointName
    }
}
