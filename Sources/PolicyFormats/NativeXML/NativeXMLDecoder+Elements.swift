import PolicyModel

/// One handler per element: read its attributes into the object being built.
extension NativeXMLDecoder {
    func start(_ element: NativeXMLElement) throws(PolicyFormatError) {
        switch element {
        case .policyStore: try startStore()
        case .filterList: try startFilterList()
        case .filter: try startFilter()
        case .include: try startInclude()
        case .source, .destination: side = element
        case .me, .any, .host, .subnet, .dnsName, .server: try startAddress(element)
        case .filterAction: try startFilterAction()
        case .offer: try startOffer()
        case .ah, .esp: try startTransform(element)
        case .policy: try startPolicy()
        case .mainMode: try startMainMode()
        case .securityMethod: try startSecurityMethod()
        case .rule: try startRule()
        case .filterListRef: try startFilterListRef()
        case .kerberos, .preSharedKey, .certificate: try startAuthentication(element)
        }
    }

    // MARK: - Store and filter lists

    private func startStore() throws(PolicyFormatError) {
        guard open.count == 1 else { throw failure(element: "policyStore", "must be the root element") }
        sawRoot = true
        var assigned: IPsecGUID?
        try eachAttribute(.policyStore) { attribute, value throws(PolicyFormatError) in
            if attribute == .assignedPolicy { assigned = try need(value.guid, .policyStore, attribute) }
        }
        if let assigned {
            assignedPolicyID = assigned
            references.append(
                .init(
                    target: .policy,
                    id: assigned,
                    line: parser.line,
                    element: .policyStore,
                    attribute: .assignedPolicy
                )
            )
        }
    }

    private func startFilterList() throws(PolicyFormatError) {
        var draft = FilterList(id: .zero, name: "")
        try eachAttribute(.filterList) { attribute, value throws(PolicyFormatError) in
            switch attribute {
            case .id: draft.id = try need(value.guid, .filterList, attribute)
            case .name: draft.name = value.string
            case .description: draft.description = value.string
            case .whenChanged: draft.whenChanged = try timestamp(value, .filterList)
            default: break
            }
        }
        list = NativeXMLFilterListDraft(list: draft, line: parser.line)
    }

    private func startFilter() throws(PolicyFormatError) {
        var draft = Filter(id: .zero, source: .any, destination: .any)
        try eachAttribute(.filter) { attribute, value throws(PolicyFormatError) in
            switch attribute {
            case .id: draft.id = try need(value.guid, .filter, attribute)
            case .description: draft.description = value.string
            case .mirrored: draft.mirrored = try need(value.bool, .filter, attribute)
            case .protocol:
                draft.ipProtocol = try need(
                    NativeXMLKeyword.protocolNumber(value.string.trimmingXMLWhitespace()),
                    .filter,
                    attribute
                )
            case .sourcePort: draft.sourcePort = try need(value.unsigned(UInt16.self), .filter, attribute)
            case .destinationPort: draft.destinationPort = try need(value.unsigned(UInt16.self), .filter, attribute)
            default: break
            }
        }
        filter = draft
    }

    private func startAddress(_ element: NativeXMLElement) throws(PolicyFormatError) {
        var address: IPv4Address?
        var mask: IPv4Address?
        var name: String?
        var server: SpecialServer?
        try eachAttribute(element) { attribute, value throws(PolicyFormatError) in
            switch attribute {
            case .address: address = try need(value.ipv4, element, attribute)
            case .mask: mask = try need(value.ipv4, element, attribute)
            case .name: name = value.string
            case .type: server = try need(NativeXMLKeyword.server(value.string), element, attribute)
            default: break
            }
        }
        let endpoint: FilterAddress
        switch element {
        case .me: endpoint = .me
        case .host: endpoint = .host(try need(address, element, .address))
        case .subnet: endpoint = .subnet(try need(address, element, .address), mask: try need(mask, element, .mask))
        case .dnsName:
            endpoint = .dnsName(try need(name, element, .name), address: try need(address, element, .address))
        case .server: endpoint = .server(try need(server, element, .type))
        default: endpoint = .any
        }
        if side == .source { filter?.source = endpoint } else { filter?.destination = endpoint }
    }

    private func startInclude() throws(PolicyFormatError) {
        var target: IPsecGUID?
        try eachAttribute(.include) { attribute, value throws(PolicyFormatError) in
            if attribute == .filterList { target = try need(value.guid, .include, attribute) }
        }
        let id = try need(target, .include, .filterList)
        let position = list?.list.filters.count ?? 0
        list?.includes.append(.init(position: position, target: id, line: parser.line))
        references.append(
            .init(target: .filterList, id: id, line: parser.line, element: .include, attribute: .filterList)
        )
    }

    // MARK: - Filter actions

    private func startFilterAction() throws(PolicyFormatError) {
        var draft = FilterAction(id: .zero, name: "", action: .permit)
        try eachAttribute(.filterAction) { attribute, value throws(PolicyFormatError) in
            switch attribute {
            case .id: draft.id = try need(value.guid, .filterAction, attribute)
            case .name: draft.name = value.string
            case .description: draft.description = value.string
            case .whenChanged: draft.whenChanged = try timestamp(value, .filterAction)
            case .action: draft.action = try need(FilterActionKind(rawValue: value.string), .filterAction, attribute)
            case .inpass: draft.inboundPassThrough = try need(value.bool, .filterAction, attribute)
            case .soft: draft.allowFallbackToClear = try need(value.bool, .filterAction, attribute)
            case .type: draft.type = try need(FilterActionType(rawValue: value.string), .filterAction, attribute)
            default: break
            }
        }
        action = draft
    }

    private func startOffer() throws(PolicyFormatError) {
        var draft = SecurityOffer(transforms: [])
        try eachAttribute(.offer) { attribute, value throws(PolicyFormatError) in
            switch attribute {
            case .lifetimeSeconds: draft.lifetimeSeconds = try need(value.unsigned(), .offer, attribute)
            case .lifetimeKilobytes: draft.lifetimeKilobytes = try need(value.unsigned(), .offer, attribute)
            case .pfs: draft.perfectForwardSecrecy = try need(value.bool, .offer, attribute)
            default: break
            }
        }
        offer = draft
    }

    private func startTransform(_ element: NativeXMLElement) throws(PolicyFormatError) {
        var encryption: ESPEncryption?
        var integrity: HashAlgorithm??
        try eachAttribute(element) { attribute, value throws(PolicyFormatError) in
            switch attribute {
            case .encryption: encryption = try need(NativeXMLKeyword.espEncryption(value.string), element, attribute)
            case .integrity: integrity = try need(NativeXMLKeyword.integrity(value.string), element, attribute)
            default: break
            }
        }
        let hash = try need(integrity, element, .integrity)
        let transform: Transform =
            element == .ah
            ? .ah(try need(hash, element, .integrity))
            : .esp(encryption: try need(encryption, element, .encryption), integrity: hash)
        offer?.transforms.append(transform)
    }

    // MARK: - Policies

    private func startPolicy() throws(PolicyFormatError) {
        var draft = IPsecPolicy(id: .zero, name: "", mainMode: MainModeSettings(id: .zero, securityMethods: []))
        try eachAttribute(.policy) { attribute, value throws(PolicyFormatError) in
            switch attribute {
            case .id: draft.id = try need(value.guid, .policy, attribute)
            case .name: draft.name = value.string
            case .description: draft.description = value.string
            case .whenChanged: draft.whenChanged = try timestamp(value, .policy)
            case .pollingIntervalSeconds: draft.pollingIntervalSeconds = try need(value.unsigned(), .policy, attribute)
            default: break
            }
        }
        policy = draft
    }

    private func startMainMode() throws(PolicyFormatError) {
        var draft = MainModeSettings(id: .zero, securityMethods: [])
        try eachAttribute(.mainMode) { attribute, value throws(PolicyFormatError) in
            switch attribute {
            case .id: draft.id = try need(value.guid, .mainMode, attribute)
            case .name: draft.name = value.string
            case .whenChanged: draft.whenChanged = try timestamp(value, .mainMode)
            case .instanceID: draft.instanceID = try need(value.guid, .mainMode, attribute)
            case .masterKeyPFS: draft.masterKeyPFS = try need(value.bool, .mainMode, attribute)
            case .quickModeLimit: draft.quickModeLimit = try need(value.unsigned(), .mainMode, attribute)
            case .lifetimeSeconds: draft.lifetimeSeconds = try need(value.unsigned(), .mainMode, attribute)
            case .certificateToAccountMapping:
                draft.certificateToAccountMapping = try need(value.bool, .mainMode, attribute)
            case .omitCertificateRequest: draft.omitCertificateRequest = try need(value.bool, .mainMode, attribute)
            default: break
            }
        }
        policy?.mainMode = draft
    }

    private func startSecurityMethod() throws(PolicyFormatError) {
        var draft = MainModeSecurityMethod(encryption: .tripleDES, hash: .sha1, group: .group2)
        try eachAttribute(.securityMethod) { attribute, value throws(PolicyFormatError) in
            switch attribute {
            case .encryption:
                draft.encryption = try need(MainModeEncryption(rawValue: value.string), .securityMethod, attribute)
            case .integrity: draft.hash = try need(HashAlgorithm(rawValue: value.string), .securityMethod, attribute)
            case .group: draft.group = try need(DiffieHellmanGroup(rawValue: value.string), .securityMethod, attribute)
            case .quickModeLimit: draft.quickModeLimit = try need(value.unsigned(), .securityMethod, attribute)
            case .lifetimeKilobytes: draft.lifetimeKilobytes = try need(value.unsigned(), .securityMethod, attribute)
            case .lifetimeSeconds: draft.lifetimeSeconds = try need(value.unsigned(), .securityMethod, attribute)
            default: break
            }
        }
        policy?.mainMode.securityMethods.append(draft)
    }

    private func startRule() throws(PolicyFormatError) {
        var draft = Rule(id: .zero, authenticationMethods: [])
        try eachAttribute(.rule) { attribute, value throws(PolicyFormatError) in
            switch attribute {
            case .id: draft.id = try need(value.guid, .rule, attribute)
            case .name: draft.name = value.string
            case .description: draft.description = value.string
            case .whenChanged: draft.whenChanged = try timestamp(value, .rule)
            case .filterAction: draft.filterActionID = try need(value.guid, .rule, attribute)
            case .interface: draft.interfaceType = try need(InterfaceType(rawValue: value.string), .rule, attribute)
            case .interfaceName: draft.interfaceName = value.string
            case .tunnelEndpoint: draft.tunnelEndpoint = try need(value.ipv4, .rule, attribute)
            case .tunnelEndpointName: draft.tunnelEndpointName = value.string
            case .active: draft.isActive = try need(value.bool, .rule, attribute)
            case .defaultResponse: draft.isDefaultResponse = try need(value.bool, .rule, attribute)
            default: break
            }
        }
        if let id = draft.filterActionID {
            references.append(
                .init(target: .filterAction, id: id, line: parser.line, element: .rule, attribute: .filterAction)
            )
        }
        rule = draft
    }

    private func startFilterListRef() throws(PolicyFormatError) {
        var target: IPsecGUID?
        try eachAttribute(.filterListRef) { attribute, value throws(PolicyFormatError) in
            if attribute == .filterList { target = try need(value.guid, .filterListRef, attribute) }
        }
        let id = try need(target, .filterListRef, .filterList)
        rule?.filterListIDs.append(id)
        references.append(
            .init(target: .filterList, id: id, line: parser.line, element: .filterListRef, attribute: .filterList)
        )
    }

    private func startAuthentication(_ element: NativeXMLElement) throws(PolicyFormatError) {
        var key: String?
        var authority = CertificateAuthority(name: "")
        var sawAuthority = false
        try eachAttribute(element) { attribute, value throws(PolicyFormatError) in
            switch attribute {
            case .key: key = value.string
            case .authority:
                authority.name = value.string
                sawAuthority = true
            case .certmap: authority.certificateToAccountMapping = try need(value.bool, element, attribute)
            case .excludeCAName: authority.excludeCAName = try need(value.bool, element, attribute)
            default: break
            }
        }
        let method: AuthenticationMethod
        switch element {
        case .preSharedKey: method = .preSharedKey(try need(key, element, .key))
        case .certificate:
            _ = try need(sawAuthority ? true : nil, element, .authority)
            method = .certificate(authority)
        default: method = .kerberos
        }
        rule?.authenticationMethods.append(method)
    }

    // MARK: - Attribute access

    /// Calls `body` for each attribute this format knows; the schema rejects the others.
    func eachAttribute(
        _ element: NativeXMLElement,
        _ body: (NativeXMLAttribute, NativeXMLValue) throws(PolicyFormatError) -> Void
    ) throws(PolicyFormatError) {
        try current?.forEachAttribute { name, bytes throws(PolicyFormatError) in
            if let attribute = attributes.lookup(name, in: parser) { try body(attribute, NativeXMLValue(bytes: bytes)) }
        }
    }

    /// The converted value, or an error naming the element and attribute.
    func need<T>(
        _ value: T?,
        _ element: NativeXMLElement,
        _ attribute: NativeXMLAttribute
    ) throws(PolicyFormatError)
        -> T
    {
        guard let value else {
            throw failure(element: element.rawValue, attribute: attribute.rawValue, "missing or not a valid value")
        }
        return value
    }

    func timestamp(_ value: NativeXMLValue, _ element: NativeXMLElement) throws(PolicyFormatError) -> Int64 {
        guard let seconds = NativeXMLTimestamp.seconds(value.string) else {
            throw failure(
                element: element.rawValue,
                attribute: "whenChanged",
                "'\(value.string)' is not a UTC time (YYYY-MM-DDThh:mm:ssZ) or a number of seconds"
            )
        }
        return seconds
    }
}
