import PolicyModel

/// Splits a ``PolicyStore`` into the objects Windows stores, with blobs in the Windows Server 2003
/// convention and references (and `ipsecOwnersReference` back-links) made by the caller's `reference`.
///
/// Order: for each policy, the policy, its ISAKMP object and its rules; then the filter actions and
/// filter lists in store order. Empty names and descriptions are left out, as Windows leaves out
/// absent ones; a rule's filter action decides whether it is the default response rule.
enum StoreDisassembler {
    static func objects(
        _ store: PolicyStore,
        file: String,
        reference: (WindowsObjectName) -> String
    ) throws(PolicyFormatError) -> [StoredObject] {
        var owners: [WindowsObjectName: [String]] = [:]
        for policy in store.policies {
            let policyName = WindowsObjectName(.policy, policy.id)
            owners[WindowsObjectName(.isakmp, policy.mainMode.id), default: []].append(reference(policyName))
            for rule in policy.rules {
                let ruleName = WindowsObjectName(.nfa, rule.id)
                owners[ruleName, default: []].append(reference(policyName))
                if let action = rule.filterActionID {
                    owners[WindowsObjectName(.negotiationPolicy, action), default: []].append(reference(ruleName))
                }
                for list in rule.filterListIDs {
                    owners[WindowsObjectName(.filter, list), default: []].append(reference(ruleName))
                }
            }
        }
        func make(
            _ name: WindowsObjectName,
            _ label: String,
            _ description: String,
            _ whenChanged: Int64?
        ) -> StoredObject {
            var object = StoredObject(name: name, location: reference(name))
            object.ipsecID = name.id.braced
            object.ipsecName = label.isEmpty ? nil : label
            object.description = description.isEmpty ? nil : description
            object.whenChanged = whenChanged
            object.dataType = BlobType.dataType
            if let list = owners[name] { object.references[ReferenceAttribute.owners.lowercased()] = list }
            return object
        }
        var result: [StoredObject] = []
        for policy in store.policies {
            let isakmpName = WindowsObjectName(.isakmp, policy.mainMode.id)
            var object = make(
                WindowsObjectName(.policy, policy.id),
                policy.name,
                policy.description,
                policy.whenChanged
            )
            object.data = IPsecData.encodePolicy(pollingIntervalSeconds: policy.pollingIntervalSeconds)
            object.references[ReferenceAttribute.isakmp.lowercased()] = [reference(isakmpName)]
            object.references[ReferenceAttribute.nfa.lowercased()] = policy.rules.map {
                reference(WindowsObjectName(.nfa, $0.id))
            }
            result.append(object)
            var isakmp = make(isakmpName, "", "", policy.mainMode.whenChanged)
            // The ISAKMP name is optional in the model: an empty name is written, an absent one is not
            // (found by the fuzzer's round-trip oracle).
            isakmp.ipsecName = policy.mainMode.name
            isakmp.data = IPsecData.encodeISAKMP(policy.mainMode)
            result.append(isakmp)
            for rule in policy.rules {
                var nfa = make(WindowsObjectName(.nfa, rule.id), rule.name, rule.description, rule.whenChanged)
                nfa.data = IPsecData.encodeNFA(
                    NFAData(
                        authenticationMethods: rule.authenticationMethods,
                        interfaceType: rule.interfaceType,
                        interfaceName: rule.interfaceName,
                        tunnelEndpoint: rule.tunnelEndpoint,
                        tunnelEndpointName: rule.tunnelEndpointName,
                        isActive: rule.isActive
                    )
                )
                if let action = rule.filterActionID {
                    nfa.references[ReferenceAttribute.negotiationPolicy.lowercased()] = [
                        reference(WindowsObjectName(.negotiationPolicy, action))
                    ]
                }
                if !rule.filterListIDs.isEmpty {
                    nfa.references[ReferenceAttribute.filter.lowercased()] = rule.filterListIDs.map {
                        reference(WindowsObjectName(.filter, $0))
                    }
                }
                result.append(nfa)
            }
        }
        for action in store.filterActions {
            var object = make(
                WindowsObjectName(.negotiationPolicy, action.id),
                action.name,
                action.description,
                action.whenChanged
            )
            object.data = IPsecData.encodeNegotiationPolicy(
                NegotiationPolicyData(offers: action.offers, allowFallbackToClear: action.allowFallbackToClear)
            )
            object.negotiationPolicyAction = actionGUID(action).braced
            object.negotiationPolicyType =
                (action.type == .defaultResponse ? WellKnownGUID.typeDefaultResponse : WellKnownGUID.typeStandard)
                .braced
            result.append(object)
        }
        for list in store.filterLists {
            var object = make(WindowsObjectName(.filter, list.id), list.name, list.description, list.whenChanged)
            object.data = try IPsecData.encodeFilter(
                list.filters,
                context: BlobContext(file: file, object: object.location)
            )
            result.append(object)
        }
        return result
    }

    /// `iPSECNegotiationPolicyAction`: inbound pass-through is its own action GUID (unconfirmed mapping,
    /// windows-ipsec.md §3.4) and only exists for negotiate.
    static func actionGUID(_ action: FilterAction) -> IPsecGUID {
        switch action.action {
        case .block: WellKnownGUID.actionBlock
        case .permit: WellKnownGUID.actionPermit
        case .negotiate:
            action.inboundPassThrough ? WellKnownGUID.actionInboundPassThrough : WellKnownGUID.actionNegotiate
        }
    }
}
