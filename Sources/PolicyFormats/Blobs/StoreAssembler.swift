import PolicyModel

/// Links stored objects into a ``PolicyStore``: decodes every blob, resolves every reference, and fails
/// as a whole on the first problem (windows-ipsec.md §1.1).
///
/// A reference resolves by its last component, the target's `<class>{GUID}` name, among the objects
/// of the same file and store (registry paths and DNs of the same object differ only above that).
/// Rules and main-mode objects that no policy references are dropped, as Windows never applies them;
/// filter lists and filter actions are kept even when unused, since netsh shows and reuses them.
struct StoreAssembler {
    let file: String
    /// Extracts the target's name from a stored reference (a registry path or a DN).
    let targetName: (String) -> WindowsObjectName?
    private var objects: [WindowsObjectName: StoredObject] = [:]
    private var order: [WindowsObjectName] = []

    init(file: String, targetName: @escaping (String) -> WindowsObjectName?) {
        self.file = file
        self.targetName = targetName
    }

    /// Adds an object; two objects with the same class and GUID are an error.
    mutating func add(_ object: StoredObject) throws(PolicyFormatError) {
        if let existing = objects[object.name] {
            throw PolicyFormatError(
                file: file,
                line: object.line,
                object: object.location,
                message: "\(object.name) appears twice (also at \(existing.location))"
            )
        }
        objects[object.name] = object
        order.append(object.name)
    }

    /// Builds the store. `assigned` is the stored reference to the assigned policy, if any.
    func assemble(
        assigned: (reference: String, location: String, line: Int?)? = nil
    ) throws(PolicyFormatError) -> PolicyStore {
        for name in order { try check(objects[name]!) }
        var store = PolicyStore()
        for name in order {
            let object = objects[name]!
            switch name.objectClass {
            case .filter: store.filterLists.append(try filterList(object))
            case .negotiationPolicy: store.filterActions.append(try filterAction(object))
            default: break
            }
        }
        var owner: [WindowsObjectName: WindowsObjectName] = [:]
        // By GUID, so that resolving every rule's action stays linear in the number of objects.
        let actionTypes = Dictionary(store.filterActions.map { ($0.id, $0.type) }) { first, _ in first }
        for name in order where name.objectClass == .policy {
            store.policies.append(try policy(objects[name]!, actionTypes: actionTypes, owner: &owner))
        }
        if let assigned {
            let holder = StoredObject(
                name: WindowsObjectName(.policy, .zero),
                location: assigned.location,
                line: assigned.line
            )
            let target = try resolve(assigned.reference, from: holder, field: "ActivePolicy", expecting: .policy)
            store.assignedPolicyID = target.name.id
        }
        return store
    }

    private func error(_ object: StoredObject, _ field: String, _ message: String) -> PolicyFormatError {
        PolicyFormatError(
            file: file,
            line: object.line(of: field),
            object: object.location,
            field: field,
            message: message
        )
    }

    /// How many objects carried each `ipsecDataType` value (objects without one are not counted), so
    /// that readers can say which one they read.
    var dataTypeCounts: [UInt32: Int] {
        var counts: [UInt32: Int] = [:]
        for object in objects.values {
            if let type = object.dataType { counts[type, default: 0] += 1 }
        }
        return counts
    }

    /// The checks every object passes: `ipsecID` agrees with the name, `ipsecDataType` is 256 or 598,
    /// data present.
    private func check(_ object: StoredObject) throws(PolicyFormatError) {
        if let text = object.ipsecID {
            guard let id = IPsecGUID(text) else { throw error(object, "ipsecID", "'\(text)' is not a GUID") }
            guard id == object.name.id else {
                throw error(object, "ipsecID", "ipsecID \(id.braced) does not match the object name \(object.name)")
            }
        }
        if let type = object.dataType, !BlobType.acceptedDataTypes.contains(type) {
            throw error(
                object,
                "ipsecDataType",
                "ipsecDataType is \(type), expected 256 (0x100) or 598 (Windows' default objects)"
            )
        }
        guard object.data != nil else { throw error(object, "ipsecData", "the object has no ipsecData") }
    }

    /// Resolves one stored reference, checking class, existence and self-reference.
    private func resolve(
        _ reference: String,
        from object: StoredObject,
        field: String,
        expecting expected: IPsecObjectClass
    ) throws(PolicyFormatError) -> StoredObject {
        guard let name = targetName(reference) else {
            throw error(object, field, "'\(reference)' does not name an IPsec object (<class>{GUID})")
        }
        if name == object.name {
            throw error(object, field, "cyclic reference: \(object.name) refers to itself")
        }
        guard name.objectClass == expected else {
            throw error(
                object,
                field,
                "reference to \(name) where an \(expected.rawValue) was expected\(name.objectClass == .policy ? " (cyclic reference)" : "")"
            )
        }
        guard let target = objects[name] else {
            throw error(object, field, "dangling reference: \(name) is not in this store")
        }
        return target
    }

    private func references(_ object: StoredObject, _ field: String) -> [String] {
        object.references[field.lowercased()] ?? []
    }

    private func filterList(_ object: StoredObject) throws(PolicyFormatError) -> FilterList {
        FilterList(
            id: object.name.id,
            name: object.ipsecName ?? "",
            description: object.description ?? "",
            whenChanged: object.whenChanged,
            filters: try IPsecData.decodeFilter(object.data!, context: object.blobContext(file: file))
        )
    }

    private func filterAction(_ object: StoredObject) throws(PolicyFormatError) -> FilterAction {
        let data = try IPsecData.decodeNegotiationPolicy(object.data!, context: object.blobContext(file: file))
        let actionField = "iPSECNegotiationPolicyAction"
        guard let actionText = object.negotiationPolicyAction else {
            throw error(object, actionField, "the filter action has no iPSECNegotiationPolicyAction")
        }
        let kind: FilterActionKind
        var passThrough = false
        switch IPsecGUID(actionText) {
        case WellKnownGUID.actionBlock: kind = .block
        case WellKnownGUID.actionPermit: kind = .permit
        case WellKnownGUID.actionNegotiate: kind = .negotiate
        case WellKnownGUID.actionInboundPassThrough:
            kind = .negotiate
            passThrough = true
        default: throw error(object, actionField, "unknown filter action GUID '\(actionText)'")
        }
        var type = FilterActionType.standard
        if let typeText = object.negotiationPolicyType {
            switch IPsecGUID(typeText) {
            case WellKnownGUID.typeStandard: type = .standard
            case WellKnownGUID.typeDefaultResponse: type = .defaultResponse
            default:
                throw error(object, "iPSECNegotiationPolicyType", "unknown filter action type GUID '\(typeText)'")
            }
        }
        return FilterAction(
            id: object.name.id,
            name: object.ipsecName ?? "",
            description: object.description ?? "",
            whenChanged: object.whenChanged,
            action: kind,
            inboundPassThrough: passThrough,
            allowFallbackToClear: data.allowFallbackToClear,
            type: type,
            offers: data.offers
        )
    }

    private func policy(
        _ object: StoredObject,
        actionTypes: [IPsecGUID: FilterActionType],
        owner: inout [WindowsObjectName: WindowsObjectName]
    ) throws(PolicyFormatError) -> IPsecPolicy {
        let interval = try IPsecData.decodePolicy(object.data!, context: object.blobContext(file: file))
        let isakmpReferences = references(object, ReferenceAttribute.isakmp)
        guard let isakmpReference = isakmpReferences.first else {
            throw error(object, ReferenceAttribute.isakmp, "the policy has no ipsecISAKMPReference")
        }
        let isakmp = try resolve(isakmpReference, from: object, field: ReferenceAttribute.isakmp, expecting: .isakmp)
        try claim(isakmp, for: object, owner: &owner, field: ReferenceAttribute.isakmp)
        var mainMode = try IPsecData.decodeISAKMP(
            isakmp.data!,
            id: isakmp.name.id,
            context: isakmp.blobContext(file: file)
        )
        mainMode.name = isakmp.ipsecName
        mainMode.whenChanged = isakmp.whenChanged
        var rules: [Rule] = []
        for reference in references(object, ReferenceAttribute.nfa) {
            let nfa = try resolve(reference, from: object, field: ReferenceAttribute.nfa, expecting: .nfa)
            try claim(nfa, for: object, owner: &owner, field: ReferenceAttribute.nfa)
            rules.append(try rule(nfa, actionTypes: actionTypes))
        }
        return IPsecPolicy(
            id: object.name.id,
            name: object.ipsecName ?? "",
            description: object.description ?? "",
            whenChanged: object.whenChanged,
            pollingIntervalSeconds: interval,
            mainMode: mainMode,
            rules: rules
        )
    }

    /// Rules and main-mode objects belong to one policy ([MS-GPIPSEC] §2.2.1): a second owner is refused.
    private func claim(
        _ child: StoredObject,
        for parent: StoredObject,
        owner: inout [WindowsObjectName: WindowsObjectName],
        field: String
    ) throws(PolicyFormatError) {
        if let first = owner[child.name], first != parent.name {
            throw error(
                parent,
                field,
                "\(child.name) already belongs to \(first); a rule or ISAKMP object has one policy"
            )
        }
        if owner[child.name] == parent.name {
            throw error(parent, field, "\(child.name) is referenced twice")
        }
        owner[child.name] = parent.name
    }

    private func rule(
        _ object: StoredObject,
        actionTypes: [IPsecGUID: FilterActionType]
    ) throws(PolicyFormatError) -> Rule {
        let data = try IPsecData.decodeNFA(object.data!, context: object.blobContext(file: file))
        var actionID: IPsecGUID?
        var isDefaultResponse = false
        let negotiationReferences = references(object, ReferenceAttribute.negotiationPolicy)
        if let reference = negotiationReferences.first {
            let target = try resolve(
                reference,
                from: object,
                field: ReferenceAttribute.negotiationPolicy,
                expecting: .negotiationPolicy
            )
            actionID = target.name.id
            isDefaultResponse = actionTypes[target.name.id] == .defaultResponse
        }
        var filterListIDs: [IPsecGUID] = []
        for reference in references(object, ReferenceAttribute.filter) {
            filterListIDs.append(
                try resolve(reference, from: object, field: ReferenceAttribute.filter, expecting: .filter).name.id
            )
        }
        return Rule(
            id: object.name.id,
            name: object.ipsecName ?? "",
            description: object.description ?? "",
            whenChanged: object.whenChanged,
            filterListIDs: filterListIDs,
            filterActionID: actionID,
            authenticationMethods: data.authenticationMethods,
            interfaceType: data.interfaceType,
            interfaceName: data.interfaceName,
            tunnelEndpoint: data.tunnelEndpoint,
            tunnelEndpointName: data.tunnelEndpointName,
            isActive: data.isActive,
            isDefaultResponse: isDefaultResponse
        )
    }
}
