import PolicyModel

/// Writes the canonical form of the native format: fixed element and attribute order, two-space
/// indentation, one element per line, and a leading comment made from the policies' descriptions.
///
/// Everything written comes from the model, so the same store always gives the same bytes and a file
/// in canonical form reads back and writes out unchanged.
struct NativeXMLWriter {
    /// An attribute value, kept typed until it is written so that GUIDs, addresses and numbers go
    /// straight to bytes (a store can hold hundreds of thousands of them).
    enum Value {
        case text(String)
        case keyword(StaticString)
        case guid(IPsecGUID)
        case address(IPv4Address)
        case number(Int64)
        case time(Int64)

        static func flag(_ value: Bool) -> Value { .keyword(value ? "true" : "false") }
        static func count(_ value: some BinaryInteger) -> Value { .number(Int64(value)) }
        static func optional(_ text: String) -> Value? { text.isEmpty ? nil : .text(text) }
    }

    typealias Attribute = (name: StaticString, value: Value?)

    private var out: [UInt8] = []

    static func write(_ store: PolicyStore) -> [UInt8] {
        var writer = NativeXMLWriter()
        let filterCount = store.filterLists.reduce(0) { $0 + $1.filters.count }
        writer.out.reserveCapacity(4096 + filterCount * 280 + store.policies.count * 1024)
        writer.document(store)
        return writer.out
    }

    private mutating func document(_ store: PolicyStore) {
        line(0, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        summary(store)
        let empty = store.isEmpty
        let attributes: [Attribute] = [
            ("xmlns", .text(NativePolicyXML.namespace)), ("version", .keyword("1")),
            ("assignedPolicy", store.assignedPolicyID.map(Value.guid)),
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
        let attributes: [Attribute] = [("id", .guid(list.id))] + named(list.name, list.description, list.whenChanged)
        open(1, "filterList", attributes, close: list.filters.isEmpty)
        guard !list.filters.isEmpty else { return }
        for filter in list.filters { self.filter(filter) }
        line(1, "</filterList>")
    }

    private mutating func filter(_ filter: Filter) {
        let attributes: [Attribute] = [
            ("id", .guid(filter.id)), ("description", .optional(filter.description)),
            ("mirrored", .flag(filter.mirrored)), ("protocol", Self.protocolValue(filter.ipProtocol)),
            ("sourcePort", filter.sourcePort == 0 ? nil : .count(filter.sourcePort)),
            ("destinationPort", filter.destinationPort == 0 ? nil : .count(filter.destinationPort)),
        ]
        open(2, "filter", attributes)
        endpoint("<source><", "/></source>\n", filter.source)
        endpoint("<destination><", "/></destination>\n", filter.destination)
        line(2, "</filter>")
    }

    private mutating func endpoint(_ prefix: StaticString, _ suffix: StaticString, _ address: FilterAddress) {
        indent(3)
        raw(prefix)
        switch address {
        case .me: raw("me")
        case .any: raw("any")
        case .host(let host):
            raw("host")
            attributeList([("address", .address(host))])
        case .subnet(let network, let mask):
            raw("subnet")
            attributeList([("address", .address(network)), ("mask", .address(mask))])
        case .dnsName(let name, let resolved):
            raw("dnsName")
            attributeList([("name", .text(name)), ("address", .address(resolved))])
        case .server(let server):
            raw("server")
            attributeList([("type", .text(NativeXMLKeyword.server(server)))])
        }
        raw(suffix)
    }

    private mutating func filterAction(_ action: FilterAction) {
        let attributes: [Attribute] =
            [("id", .guid(action.id))] + named(action.name, action.description, action.whenChanged) + [
                ("action", .text(action.action.rawValue)), ("inpass", .flag(action.inboundPassThrough)),
                ("soft", .flag(action.allowFallbackToClear)), ("type", .text(action.type.rawValue)),
            ]
        open(1, "filterAction", attributes, close: action.offers.isEmpty)
        guard !action.offers.isEmpty else { return }
        for offer in action.offers {
            let attributes: [Attribute] = [
                ("lifetimeSeconds", .count(offer.lifetimeSeconds)),
                ("lifetimeKilobytes", .count(offer.lifetimeKilobytes)), ("pfs", .flag(offer.perfectForwardSecrecy)),
            ]
            open(2, "offer", attributes, close: offer.transforms.isEmpty)
            guard !offer.transforms.isEmpty else { continue }
            for transform in offer.transforms {
                switch transform {
                case .ah(let hash): open(3, "ah", [("integrity", .text(hash.rawValue))], close: true)
                case .esp(let encryption, let integrity):
                    let attributes: [Attribute] = [
                        ("encryption", .text(NativeXMLKeyword.espEncryption(encryption))),
                        ("integrity", .text(NativeXMLKeyword.integrity(integrity))),
                    ]
                    open(3, "esp", attributes, close: true)
                }
            }
            line(2, "</offer>")
        }
        line(1, "</filterAction>")
    }

    private mutating func policy(_ policy: IPsecPolicy) {
        let attributes: [Attribute] =
            [("id", .guid(policy.id))] + named(policy.name, policy.description, policy.whenChanged)
            + [("pollingIntervalSeconds", .count(policy.pollingIntervalSeconds))]
        open(1, "policy", attributes)
        mainMode(policy.mainMode)
        for rule in policy.rules { self.rule(rule) }
        line(1, "</policy>")
    }

    private mutating func mainMode(_ settings: MainModeSettings) {
        let attributes: [Attribute] = [
            ("id", .guid(settings.id)), ("name", settings.name.map(Value.text)),
            ("whenChanged", settings.whenChanged.map(Value.time)),
            ("instanceID", settings.instanceID == .zero ? nil : .guid(settings.instanceID)),
            ("masterKeyPFS", .flag(settings.masterKeyPFS)), ("quickModeLimit", .count(settings.quickModeLimit)),
            ("lifetimeSeconds", .count(settings.lifetimeSeconds)),
            ("certificateToAccountMapping", .flag(settings.certificateToAccountMapping)),
            ("omitCertificateRequest", .flag(settings.omitCertificateRequest)),
        ]
        open(2, "mainMode", attributes, close: settings.securityMethods.isEmpty)
        guard !settings.securityMethods.isEmpty else { return }
        for method in settings.securityMethods {
            let attributes: [Attribute] = [
                ("encryption", .text(method.encryption.rawValue)), ("integrity", .text(method.hash.rawValue)),
                ("group", .text(method.group.rawValue)), ("quickModeLimit", .count(method.quickModeLimit)),
                ("lifetimeKilobytes", .count(method.lifetimeKilobytes)),
                ("lifetimeSeconds", .count(method.lifetimeSeconds)),
            ]
            open(3, "securityMethod", attributes, close: true)
        }
        line(2, "</mainMode>")
    }

    private mutating func rule(_ rule: Rule) {
        let attributes: [Attribute] =
            [("id", .guid(rule.id))] + named(rule.name, rule.description, rule.whenChanged) + [
                ("filterAction", rule.filterActionID.map(Value.guid)),
                ("interface", .text(rule.interfaceType.rawValue)),
                ("interfaceName", .optional(rule.interfaceName)),
                ("tunnelEndpoint", rule.tunnelEndpoint.map(Value.address)),
                ("tunnelEndpointName", .optional(rule.tunnelEndpointName)), ("active", .flag(rule.isActive)),
                ("defaultResponse", .flag(rule.isDefaultResponse)),
            ]
        let empty = rule.filterListIDs.isEmpty && rule.authenticationMethods.isEmpty
        open(2, "rule", attributes, close: empty)
        guard !empty else { return }
        for id in rule.filterListIDs { open(3, "filterListRef", [("filterList", .guid(id))], close: true) }
        for method in rule.authenticationMethods {
            switch method {
            case .kerberos: open(3, "kerberos", [], close: true)
            case .preSharedKey(let key): open(3, "preSharedKey", [("key", .text(key))], close: true)
            case .certificate(let authority):
                let attributes: [Attribute] = [
                    ("authority", .text(authority.name)), ("certmap", .flag(authority.certificateToAccountMapping)),
                    ("excludeCAName", .flag(authority.excludeCAName)),
                ]
                open(3, "certificate", attributes, close: true)
            }
        }
        line(2, "</rule>")
    }

    private func named(_ name: String, _ description: String, _ whenChanged: Int64?) -> [Attribute] {
        [
            ("name", .optional(name)), ("description", .optional(description)),
            ("whenChanged", whenChanged.map(Value.time)),
        ]
    }

    private static func protocolValue(_ number: UInt8) -> Value {
        switch number {
        case 0: .keyword("any")
        case 6: .keyword("tcp")
        case 17: .keyword("udp")
        case 1: .keyword("icmp")
        default: .text(NativeXMLKeyword.protocolName(number))
        }
    }

    // MARK: - Output

    private mutating func open(_ level: Int, _ element: StaticString, _ attributes: [Attribute], close: Bool = false) {
        indent(level)
        out.append(UInt8(ascii: "<"))
        raw(element)
        attributeList(attributes)
        raw(close ? "/>\n" : ">\n")
    }

    private mutating func attributeList(_ attributes: [Attribute]) {
        for (name, value) in attributes {
            guard let value else { continue }
            out.append(0x20)
            raw(name)
            out.append(UInt8(ascii: "="))
            out.append(UInt8(ascii: "\""))
            switch value {
            case .text(let text): escaped(text)
            case .keyword(let keyword): raw(keyword)
            case .guid(let guid): self.guid(guid)
            case .address(let address): self.address(address)
            case .number(let number): decimal(number)
            case .time(let seconds): text(NativeXMLTimestamp.text(seconds))
            }
            out.append(UInt8(ascii: "\""))
        }
    }

    private mutating func line(_ level: Int, _ content: String) {
        indent(level)
        text(content)
        out.append(0x0A)
    }

    private mutating func indent(_ level: Int) {
        for _ in 0..<level * 2 { out.append(0x20) }
    }

    private mutating func raw(_ content: StaticString) {
        content.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    private mutating func text(_ content: String) { out.append(contentsOf: content.utf8) }

    /// `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}` in lower case, as `IPsecGUID.braced` spells it.
    private mutating func guid(_ guid: IPsecGUID) {
        out.append(UInt8(ascii: "{"))
        for index in 0..<16 {
            if index == 4 || index == 6 || index == 8 || index == 10 { out.append(UInt8(ascii: "-")) }
            let byte = guid[byte: index]
            out.append(IPsecGUID.hexDigit(byte >> 4))
            out.append(IPsecGUID.hexDigit(byte & 0x0F))
        }
        out.append(UInt8(ascii: "}"))
    }

    private mutating func address(_ address: IPv4Address) {
        for shift in [24, 16, 8, 0] as [UInt32] {
            if shift != 24 { out.append(UInt8(ascii: ".")) }
            decimal(Int64(address.value >> shift & 0xFF))
        }
    }

    private mutating func decimal(_ number: Int64) {
        guard number >= 0 else { return text(String(number)) }
        if number >= 10 { decimal(number / 10) }
        out.append(UInt8(ascii: "0") + UInt8(number % 10))
    }

    /// Attribute text: markup characters as entities, tab/CR/LF as character references (the parser would
    /// otherwise turn them into spaces), and characters XML 1.0 cannot carry at all as U+FFFD.
    private mutating func escaped(_ value: String) {
        for scalar in value.unicodeScalars {
            switch scalar.value {
            case 0x26: raw("&amp;")
            case 0x3C: raw("&lt;")
            case 0x3E: raw("&gt;")
            case 0x22: raw("&quot;")
            case 0x09: raw("&#9;")
            case 0x0A: raw("&#10;")
            case 0x0D: raw("&#13;")
            case 0x00..<0x20, 0xFFFE, 0xFFFF: raw("\u{FFFD}")
            case 0x20..<0x80: out.append(UInt8(scalar.value))
            default: out.append(contentsOf: String(scalar).utf8)
            }
        }
    }

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
