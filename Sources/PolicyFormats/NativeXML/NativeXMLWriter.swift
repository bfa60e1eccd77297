import PolicyModel

/// Writes the canonical form of the native format: fixed element and attribute order, two-space
/// indentation, one element per line, and a leading comment made from the policies' descriptions.
///
/// Everything written comes from the model, so the same store always gives the same bytes and a file
/// in canonical form reads back and writes out unchanged.
struct NativeXMLWriter {
    private var out: [UInt8] = []

    static func write(_ store: PolicyStore) -> [UInt8] {
        var writer = NativeXMLWriter()
        let filterCount = store.filterLists.reduce(0) { $0 + $1.filters.count }
        writer.out.reserveCapacity(4096 + filterCount * 256 + store.policies.count * 1024)
        writer.document(store)
        return writer.out
    }

    private mutating func document(_ store: PolicyStore) {
        line(0, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        summary(store)
        let empty = store.isEmpty
        let attributes = [
            ("xmlns", NativePolicyXML.namespace), ("version", "1"), ("assignedPolicy", store.assignedPolicyID?.braced),
        ]
        open(0, "policyStore", attributes, close: empty)
        guard !empty else { return }
        for list in store.filterLists { filterList(list) }
        for action in store.filterActions { filterAction(action) }
        for policy in store.policies { self.policy(policy) }
        line(0, "</policyStore>")
    }

    /// The comment an administrator reads first: what each policy is for.
    private mutating func summary(_ store: PolicyStore) {
        guard !store.policies.isEmpty else { return }
        let shown = 20
        var lines = store.policies.prefix(shown).map { policy in
            let name = policy.name.isEmpty ? policy.id.braced : policy.name
            let assigned = policy.id == store.assignedPolicyID ? " (assigned)" : ""
            return policy.description.isEmpty ? name + assigned : name + assigned + ": " + policy.description
        }
        if store.policies.count > shown { lines.append("and \(store.policies.count - shown) more policies") }
        line(0, "<!--")
        for text in lines { line(0, "  " + Self.commentSafe(text)) }
        line(0, "-->")
    }

    // MARK: - Objects

    private mutating func filterList(_ list: FilterList) {
        let attributes = [("id", list.id.braced)] + named(list.name, list.description, list.whenChanged)
        open(1, "filterList", attributes, close: list.filters.isEmpty)
        guard !list.filters.isEmpty else { return }
        for filter in list.filters { self.filter(filter) }
        line(1, "</filterList>")
    }

    private mutating func filter(_ filter: Filter) {
        open(
            2,
            "filter",
            [
                ("id", filter.id.braced), ("description", filter.description.nonEmpty),
                ("mirrored", Self.bool(filter.mirrored)),
                ("protocol", NativeXMLKeyword.protocolName(filter.ipProtocol)),
                ("sourcePort", filter.sourcePort == 0 ? nil : String(filter.sourcePort)),
                ("destinationPort", filter.destinationPort == 0 ? nil : String(filter.destinationPort)),
            ]
        )
        endpoint("source", filter.source)
        endpoint("destination", filter.destination)
        line(2, "</filter>")
    }

    private mutating func endpoint(_ side: String, _ address: FilterAddress) {
        let (element, attributes): (String, [(String, String?)]) =
            switch address {
            case .me: ("me", [])
            case .any: ("any", [])
            case .host(let host): ("host", [("address", host.description)])
            case .subnet(let network, let mask):
                ("subnet", [("address", network.description), ("mask", mask.description)])
            case .dnsName(let name, let resolved): ("dnsName", [("name", name), ("address", resolved.description)])
            case .server(let server): ("server", [("type", NativeXMLKeyword.server(server))])
            }
        indent(3)
        text("<" + side + "><" + element)
        attributeList(attributes)
        text("/></" + side + ">\n")
    }

    private mutating func filterAction(_ action: FilterAction) {
        let attributes =
            [("id", action.id.braced)] + named(action.name, action.description, action.whenChanged) + [
                ("action", action.action.rawValue), ("inpass", Self.bool(action.inboundPassThrough)),
                ("soft", Self.bool(action.allowFallbackToClear)), ("type", action.type.rawValue),
            ]
        open(1, "filterAction", attributes, close: action.offers.isEmpty)
        guard !action.offers.isEmpty else { return }
        for offer in action.offers {
            let attributes = [
                ("lifetimeSeconds", String(offer.lifetimeSeconds)),
                ("lifetimeKilobytes", String(offer.lifetimeKilobytes)),
                ("pfs", Self.bool(offer.perfectForwardSecrecy)),
            ]
            open(2, "offer", attributes, close: offer.transforms.isEmpty)
            guard !offer.transforms.isEmpty else { continue }
            for transform in offer.transforms {
                switch transform {
                case .ah(let hash): open(3, "ah", [("integrity", hash.rawValue)], close: true)
                case .esp(let encryption, let integrity):
                    let attributes = [
                        ("encryption", NativeXMLKeyword.espEncryption(encryption)),
                        ("integrity", NativeXMLKeyword.integrity(integrity)),
                    ]
                    open(3, "esp", attributes, close: true)
                }
            }
            line(2, "</offer>")
        }
        line(1, "</filterAction>")
    }

    private mutating func policy(_ policy: IPsecPolicy) {
        let attributes =
            [("id", policy.id.braced)] + named(policy.name, policy.description, policy.whenChanged)
            + [("pollingIntervalSeconds", String(policy.pollingIntervalSeconds))]
        open(1, "policy", attributes)
        mainMode(policy.mainMode)
        for rule in policy.rules { self.rule(rule) }
        line(1, "</policy>")
    }

    private mutating func mainMode(_ settings: MainModeSettings) {
        let attributes: [(String, String?)] = [
            ("id", settings.id.braced), ("name", settings.name),
            ("whenChanged", settings.whenChanged.map(NativeXMLTimestamp.text)),
            ("instanceID", settings.instanceID == .zero ? nil : settings.instanceID.braced),
            ("masterKeyPFS", Self.bool(settings.masterKeyPFS)), ("quickModeLimit", String(settings.quickModeLimit)),
            ("lifetimeSeconds", String(settings.lifetimeSeconds)),
            ("certificateToAccountMapping", Self.bool(settings.certificateToAccountMapping)),
            ("omitCertificateRequest", Self.bool(settings.omitCertificateRequest)),
        ]
        open(2, "mainMode", attributes, close: settings.securityMethods.isEmpty)
        guard !settings.securityMethods.isEmpty else { return }
        for method in settings.securityMethods {
            let attributes = [
                ("encryption", method.encryption.rawValue), ("integrity", method.hash.rawValue),
                ("group", method.group.rawValue),
                ("quickModeLimit", String(method.quickModeLimit)),
                ("lifetimeKilobytes", String(method.lifetimeKilobytes)),
                ("lifetimeSeconds", String(method.lifetimeSeconds)),
            ]
            open(3, "securityMethod", attributes, close: true)
        }
        line(2, "</mainMode>")
    }

    private mutating func rule(_ rule: Rule) {
        let attributes =
            [("id", rule.id.braced)] + named(rule.name, rule.description, rule.whenChanged) + [
                ("filterAction", rule.filterActionID?.braced), ("interface", rule.interfaceType.rawValue),
                ("interfaceName", rule.interfaceName.nonEmpty), ("tunnelEndpoint", rule.tunnelEndpoint?.description),
                ("tunnelEndpointName", rule.tunnelEndpointName.nonEmpty), ("active", Self.bool(rule.isActive)),
                ("defaultResponse", Self.bool(rule.isDefaultResponse)),
            ]
        let empty = rule.filterListIDs.isEmpty && rule.authenticationMethods.isEmpty
        open(2, "rule", attributes, close: empty)
        guard !empty else { return }
        for id in rule.filterListIDs { open(3, "filterListRef", [("filterList", id.braced)], close: true) }
        for method in rule.authenticationMethods {
            switch method {
            case .kerberos: open(3, "kerberos", [], close: true)
            case .preSharedKey(let key): open(3, "preSharedKey", [("key", key)], close: true)
            case .certificate(let authority):
                let attributes = [
                    ("authority", authority.name), ("certmap", Self.bool(authority.certificateToAccountMapping)),
                    ("excludeCAName", Self.bool(authority.excludeCAName)),
                ]
                open(3, "certificate", attributes, close: true)
            }
        }
        line(2, "</rule>")
    }

    private func named(_ name: String, _ description: String, _ whenChanged: Int64?) -> [(String, String?)] {
        [
            ("name", name.nonEmpty), ("description", description.nonEmpty),
            ("whenChanged", whenChanged.map(NativeXMLTimestamp.text)),
        ]
    }

    // MARK: - Output

    private mutating func open(
        _ level: Int,
        _ element: String,
        _ attributes: [(String, String?)],
        close: Bool = false
    ) {
        indent(level)
        text("<" + element)
        attributeList(attributes)
        text(close ? "/>\n" : ">\n")
    }

    private mutating func attributeList(_ attributes: [(String, String?)]) {
        for (name, value) in attributes {
            guard let value else { continue }
            out.append(0x20)
            text(name)
            text("=\"")
            escaped(value)
            out.append(UInt8(ascii: "\""))
        }
    }

    private mutating func line(_ level: Int, _ content: String) {
        indent(level)
        text(content)
        out.append(0x0A)
    }

    private mutating func indent(_ level: Int) {
        out.append(contentsOf: repeatElement(0x20, count: level * 2))
    }

    private mutating func text(_ content: String) { out.append(contentsOf: content.utf8) }

    /// Attribute text: markup characters as entities, tab/CR/LF as character references (the parser would
    /// otherwise turn them into spaces), and characters XML 1.0 cannot carry at all as U+FFFD.
    private mutating func escaped(_ value: String) {
        for scalar in value.unicodeScalars {
            switch scalar.value {
            case 0x26: text("&amp;")
            case 0x3C: text("&lt;")
            case 0x3E: text("&gt;")
            case 0x22: text("&quot;")
            case 0x09: text("&#9;")
            case 0x0A: text("&#10;")
            case 0x0D: text("&#13;")
            case 0x00..<0x20, 0xFFFE, 0xFFFF: text("\u{FFFD}")
            case 0x20..<0x80: out.append(UInt8(scalar.value))
            default: out.append(contentsOf: String(scalar).utf8)
            }
        }
    }

    private static func bool(_ value: Bool) -> String { value ? "true" : "false" }

    /// Comment text: one line, no `--`, which XML forbids inside comments.
    private static func commentSafe(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            let character: Character =
                scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF ? " " : Character(scalar)
            if character == "-", result.last == "-" { result.append(" ") }
            result.append(character)
        }
        return result
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
