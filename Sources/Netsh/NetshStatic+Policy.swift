import PolicyModel

/// `add|set|delete policy`: a policy with its ISAKMP (main mode) settings and default response rule.
extension NetshStaticSession {
    static let policyParameters: [NetshParameter] = [
        .name("policy"),
        .description("policy"),
        NetshParameter("mmpfs", NetshParameter.yesNo, "Option to set master perfect forward secrecy (default no)."),
        NetshParameter(
            "qmpermm",
            NetshParameter.integer,
            "Number of quick mode sessions per main mode session of IKE (default 0, unlimited)."
        ),
        NetshParameter("mmlifetime", NetshParameter.integer, "Main mode lifetime for IKE in minutes (default 480)."),
        NetshParameter(
            "activatedefaultrule",
            NetshParameter.yesNo,
            "Activates or deactivates the default response rule (default yes)."
        ),
        NetshParameter(
            "pollinginterval",
            NetshParameter.integer,
            "Polling interval, the time in minutes between checks for changes to the policy (default 180)."
        ),
        NetshParameter("assign", NetshParameter.yesNo, "Assigns the policy as active or inactive (default no)."),
        .mmsecmethods,
    ]

    static let policyCommands: [NetshCommand<NetshStaticSession>] = [
        NetshCommand(
            "add",
            "policy",
            summary: "Creates a policy with a default response rule.",
            parameters: policyParameters,
            required: [["name"]],
            remarks: [
                "If mmpfs is yes, qmpermm is set to 1.",
                "Without mmsecmethods the policy offers 3DES-SHA1-2 3DES-MD5-2 DES-SHA1-1 DES-MD5-1.",
                "Assigning a policy unassigns the policy assigned before in the same store.",
                "The use of DES and MD5 is not recommended. These cryptographic algorithms are provided for backward compatibility only.",
            ],
            examples: [
                "add policy name=Policy1 mmpfs=yes mmlife=300 mmsec=\"3DES-SHA1-3 DES-MD5-3 3DES-MD5-2\""
            ],
            run: edit(addPolicy)
        ),
        NetshCommand(
            "set",
            "policy",
            summary: "Modifies a policy.",
            parameters: [.name("policy"), .guid("policy"), .newName("policy")] + policyParameters.dropFirst()
                + [
                    NetshParameter(
                        "gponame",
                        NetshParameter.string,
                        "Name of the group policy object (domain store only)."
                    )
                ],
            required: [["name", "guid"]],
            remarks: ["The use of DES and MD5 is not recommended."],
            examples: ["set policy name=Policy1 mmpfs=yes assign=yes"],
            run: edit(setPolicy)
        ),
        NetshCommand(
            "delete",
            "policy",
            summary: "Deletes a policy and its rules.",
            parameters: [.name("policy"), .all("policies")],
            required: [["name", "all"]],
            remarks: ["The filter lists and filter actions the rules used stay in the store."],
            examples: ["delete policy name=Policy1", "delete policy all"],
            run: edit(deletePolicy)
        ),
    ]

    func addPolicy(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        let name = arguments.string("name") ?? ""
        guard store.policyNames.positions(named: name).isEmpty else { throw .exists("Policy", name) }
        let defaultAction = FilterAction(
            id: environment.newGUID(),
            name: "",
            whenChanged: now,
            action: .negotiate,
            type: .defaultResponse,
            offers: NetshSecurityMethods.defaultResponseOffers
        )
        let defaultRule = Rule(
            id: environment.newGUID(),
            whenChanged: now,
            filterActionID: defaultAction.id,
            isDefaultResponse: true
        )
        var policy = IPsecPolicy(
            id: environment.newGUID(),
            name: name,
            whenChanged: now,
            mainMode: MainModeSettings(id: environment.newGUID(), whenChanged: now),
            rules: [defaultRule]
        )
        try applyPolicySettings(arguments, to: &policy)
        let assign = try arguments.bool("assign") == true
        store.appendFilterAction(defaultAction)
        store.appendPolicy(policy)
        if assign { store.assignedPolicyID = policy.id }
        return ""
    }

    func setPolicy(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        let index = try policyIndex(arguments, store)
        var policy = store.store.policies[index]
        if let newName = arguments.string("newname"), !newName.caseInsensitiveEquals(policy.name) {
            guard store.policyNames.positions(named: newName).isEmpty else { throw .exists("Policy", newName) }
            policy.name = newName
        }
        if arguments.has("gponame") {
            throw NetshError(
                "The parameter 'gponame' is valid only with the domain store (set store location=domain), which ipsecsvc does not edit."
            )
        }
        try applyPolicySettings(arguments, to: &policy)
        policy.whenChanged = now
        let assign = try arguments.bool("assign")
        store.modifyPolicy(at: index) { $0 = policy }
        switch assign {
        case true?: store.assignedPolicyID = policy.id
        case false? where store.assignedPolicyID == policy.id: store.assignedPolicyID = nil
        default: break
        }
        return ""
    }

    func deletePolicy(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        let doomed: [IPsecPolicy]
        if arguments.has("all") {
            doomed = store.store.policies
        } else {
            doomed = [store.store.policies[try policyIndex(arguments, store)]]
        }
        let doomedIDs = Set(doomed.map(\.id))
        // The default response rule's filter action belongs to its policy and goes with it.
        let owned = Set(doomed.flatMap(\.rules).filter(\.isDefaultResponse).compactMap(\.filterActionID))
        store.modify { store in
            store.filterActions.removeAll { owned.contains($0.id) && $0.type == .defaultResponse }
            store.policies.removeAll { doomedIDs.contains($0.id) }
            if let assigned = store.assignedPolicyID, doomedIDs.contains(assigned) { store.assignedPolicyID = nil }
        }
        return ""
    }

    /// Finds the policy named by `tag` (`name=` of the policy commands, `policy=` of the rule
    /// commands) or by `guid=`.
    func policyIndex(
        _ arguments: NetshArguments,
        _ store: IndexedPolicyStore,
        tag: String = "name"
    ) throws(NetshError)
        -> Int
    {
        if let text = arguments.string("guid") {
            guard let guid = IPsecGUID(text) else {
                throw .invalidValue("guid", text, accepted: "a GUID such as {11E6E97E-0031-49F5-AC7D-5F2FE99BABAF}")
            }
            guard let index = store.policyPosition(id: guid) else {
                throw NetshError("Policy with GUID \(guid.braced) does not exist.")
            }
            return index
        }
        let name = arguments.string(tag) ?? ""
        return try store.policyMatch(name).required("Policy", plural: "policies", name: name, parameter: tag)
    }

    /// The settings `add policy` and `set policy` share.
    private func applyPolicySettings(
        _ arguments: NetshArguments,
        to policy: inout IPsecPolicy
    ) throws(NetshError) {
        if let description = arguments.string("description") { policy.description = description }
        if let methods = arguments.string("mmsecmethods") {
            var parsed = try NetshSecurityMethods.parseMainMode(methods)
            for index in parsed.indices {
                parsed[index].lifetimeSeconds = policy.mainMode.lifetimeSeconds
                parsed[index].quickModeLimit = policy.mainMode.quickModeLimit
            }
            policy.mainMode.securityMethods = parsed
        }
        if let minutes = try arguments.integer("mmlifetime", in: 1...71_582_788) {
            policy.mainMode.lifetimeSeconds = UInt32(minutes * 60)
            for index in policy.mainMode.securityMethods.indices {
                policy.mainMode.securityMethods[index].lifetimeSeconds = UInt32(minutes * 60)
            }
        }
        if let limit = try arguments.integer("qmpermm", in: 0...Int(Int32.max)) {
            setQuickModeLimit(UInt32(limit), &policy)
        }
        if let pfs = try arguments.bool("mmpfs") {
            policy.mainMode.masterKeyPFS = pfs
            // Master key PFS means one quick mode per main mode (windows-ipsec.md §3.2).
            if pfs { setQuickModeLimit(1, &policy) }
        }
        if let minutes = try arguments.integer("pollinginterval", in: 0...71_582_788) {
            policy.pollingIntervalSeconds = UInt32(minutes * 60)
        }
        if let active = try arguments.bool("activatedefaultrule") {
            for index in policy.rules.indices where policy.rules[index].isDefaultResponse {
                policy.rules[index].isActive = active
                policy.rules[index].whenChanged = now
            }
        }
        policy.mainMode.whenChanged = now
    }

    private func setQuickModeLimit(_ limit: UInt32, _ policy: inout IPsecPolicy) {
        policy.mainMode.quickModeLimit = limit
        for index in policy.mainMode.securityMethods.indices {
            policy.mainMode.securityMethods[index].quickModeLimit = limit
        }
    }
}
