import PolicyModel

/// `add|set|delete filteraction`.
extension NetshStaticSession {
    static let filterActionSettings: [NetshParameter] = [
        .description("filter action"),
        NetshParameter("qmpfs", NetshParameter.yesNo, "Option to set quick mode perfect forward secrecy (default no)."),
        NetshParameter(
            "inpass",
            NetshParameter.yesNo,
            "Accept unsecured communication, but always respond using IPsec (default no)."
        ),
        NetshParameter(
            "soft",
            NetshParameter.yesNo,
            "Allow unsecured communication with non-IPsec-aware computers (default no)."
        ),
        NetshParameter("action", "(permit | block | negotiate)", "The action (default negotiate)."),
        .qmsecmethods,
    ]

    static let filterActionCommands: [NetshCommand<NetshStaticSession>] = [
        NetshCommand(
            "add",
            "filteraction",
            summary: "Creates a filter action.",
            parameters: [.name("filter action")] + filterActionSettings,
            required: [["name"]],
            remarks: [
                "Quick mode security methods are ignored if the action is not 'negotiate'.",
                "Without qmsecmethods a negotiating action offers ESP[3DES,SHA1] ESP[3DES,MD5] ESP[DES,SHA1] ESP[DES,MD5].",
                "The use of DES and MD5 is not recommended. These cryptographic algorithms are provided for backward compatibility only.",
            ],
            examples: [
                "add filteraction name=FilterA qmpfs=yes soft=y action=negotiate qmsec=\"AH[MD5]:204800k/300s ESP[DES,SHA1]:30000k/480s\""
            ],
            run: edit(addFilterAction)
        ),
        NetshCommand(
            "set",
            "filteraction",
            summary: "Modifies a filter action.",
            parameters: [.name("filter action"), .guid("filter action"), .newName("filter action")]
                + filterActionSettings,
            required: [["name", "guid"]],
            examples: ["set filteraction name=test qmsec=ESP[3DES,MD5]:100000k/2000s"],
            run: edit(setFilterAction)
        ),
        NetshCommand(
            "delete",
            "filteraction",
            summary: "Deletes a filter action.",
            parameters: [.name("filter action"), .all("filter actions")],
            required: [["name", "all"]],
            remarks: [
                "A filter action that a rule uses cannot be deleted; 'all' deletes every filter action that no rule uses."
            ],
            examples: ["delete filteraction FilterA"],
            run: edit(deleteFilterAction)
        ),
    ]

    func addFilterAction(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        let name = arguments.string("name") ?? ""
        guard store.filterActionNames.positions(named: name).isEmpty else { throw .exists("Filter Action", name) }
        var action = FilterAction(
            id: environment.newGUID(),
            name: name,
            whenChanged: now,
            action: .negotiate,
            offers: SecurityOffer.windowsDefaults
        )
        try applyFilterActionSettings(arguments, to: &action)
        store.appendFilterAction(action)
        return ""
    }

    func setFilterAction(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        let index = try filterActionIndex(arguments, store)
        var action = store.store.filterActions[index]
        if let newName = arguments.string("newname"), !newName.caseInsensitiveEquals(action.name) {
            guard store.filterActionNames.positions(named: newName).isEmpty else {
                throw .exists("Filter Action", newName)
            }
            action.name = newName
        }
        try applyFilterActionSettings(arguments, to: &action)
        action.whenChanged = now
        store.modifyFilterAction(at: index) { $0 = action }
        return ""
    }

    func deleteFilterAction(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String
    {
        if arguments.has("all") {
            return store.modify { store in
                let used = Set(store.policies.flatMap(\.rules).compactMap(\.filterActionID))
                let kept = store.filterActions.filter { used.contains($0.id) && $0.type == .standard }
                store.filterActions.removeAll { !used.contains($0.id) && $0.type == .standard }
                return kept.map { "Filter action \"\($0.name)\" is used by a rule and was not deleted.\n" }.joined()
            }
        }
        let index = try filterActionIndex(arguments, store)
        let action = store.store.filterActions[index]
        if let (policy, rule) = store.store.firstRule(where: { $0.filterActionID == action.id }) {
            throw NetshError(
                "Filter action \"\(action.name)\" is used by rule \"\(rule.name)\" of policy \"\(policy.name)\" and cannot be deleted. Delete the rule or change its filter action first."
            )
        }
        store.removeFilterAction(at: index)
        return ""
    }

    func filterActionIndex(_ arguments: NetshArguments, _ store: IndexedPolicyStore) throws(NetshError) -> Int {
        if let text = arguments.string("guid") {
            guard let guid = IPsecGUID(text) else { throw .invalidValue("guid", text, accepted: "a GUID") }
            guard let index = store.filterActionNames.firstEligiblePosition(id: guid) else {
                throw NetshError("Filter action with GUID \(guid.braced) does not exist.")
            }
            return index
        }
        let name = arguments.string("name") ?? ""
        return try store.filterActionMatch(name)
            .required("Filter Action", plural: "filter actions", name: name, parameter: "name")
    }

    /// The settings `add filteraction` and `set filteraction` share.
    private func applyFilterActionSettings(
        _ arguments: NetshArguments,
        to action: inout FilterAction
    )
        throws(NetshError)
    {
        if let description = arguments.string("description") { action.description = description }
        if let kind = try arguments.choice(
            "action",
            [("permit", FilterActionKind.permit), ("block", .block), ("negotiate", .negotiate)]
        ) {
            action.action = kind
        }
        let pfs = try arguments.bool("qmpfs") ?? action.quickModePFS
        if let methods = arguments.string("qmsecmethods") {
            action.offers = try NetshSecurityMethods.parseQuickMode(methods, pfs: pfs)
        }
        if action.action == .negotiate && action.offers.isEmpty {
            action.offers = SecurityOffer.windowsDefaults
        }
        for index in action.offers.indices { action.offers[index].perfectForwardSecrecy = pfs }
        if let inpass = try arguments.bool("inpass") { action.inboundPassThrough = inpass }
        if let soft = try arguments.bool("soft") { action.allowFallbackToClear = soft }
        // Permit and block carry no offers and no negotiation flags (Windows ignores them).
        if action.action != .negotiate {
            action.offers = []
            action.inboundPassThrough = false
            action.allowFallbackToClear = false
        }
    }
}
