import PolicyModel

/// `add|set|delete mmpolicy` and `add|set|delete qmpolicy`.
extension NetshDynamicSession {
    static let mainModeSettings: [NetshParameter] = [
        NetshParameter(
            "qmpermm",
            NetshParameter.integer,
            "Number of quick mode sessions per main mode session (default 0, unlimited)."
        ),
        NetshParameter("mmlifetime", NetshParameter.integer, "Main mode lifetime in minutes (default 480)."),
        NetshParameter(
            "softsaexpirationtime",
            NetshParameter.integer,
            "Soft SA expiration time in seconds (default 0)."
        ),
        .mmsecmethods,
    ]

    static let quickModeSettings: [NetshParameter] = [
        NetshParameter(
            "soft",
            NetshParameter.yesNo,
            "Allow unsecured communication with non-IPsec-aware computers (default no)."
        ),
        NetshParameter(
            "pfsgroup",
            "(GRP1 | GRP2 | GRP3 | GRPMM | NOPFS)",
            "Perfect forward secrecy group (default NOPFS)."
        ),
        .qmsecmethods,
    ]

    static let policyCommands: [NetshCommand<NetshDynamicSession>] = [
        NetshCommand(
            "add",
            "mmpolicy",
            summary: "Adds a main mode policy to the SPD.",
            parameters: [.name("main mode policy")] + mainModeSettings,
            required: [["name"]],
            examples: [
                "add mmpolicy name=MMPol qmpermm=10 mmlifetime=300 softsaexpirationtime=300 mmsecmethods=\"3DES-SHA1-3\""
            ],
            run: edit(addMainModePolicy)
        ),
        NetshCommand(
            "set",
            "mmpolicy",
            summary: "Modifies main mode policies in the SPD.",
            parameters: [.name("main mode policy"), .all("main mode policies")] + mainModeSettings,
            required: [["name", "all"]],
            examples: ["set mmpolicy name=MMPol mmlifetime=600"],
            run: edit(setMainModePolicy)
        ),
        NetshCommand(
            "delete",
            "mmpolicy",
            summary: "Deletes main mode policies from the SPD.",
            parameters: [.name("main mode policy"), .all("main mode policies")],
            required: [["name", "all"]],
            remarks: ["A main mode policy that a rule uses cannot be deleted."],
            examples: ["delete mmpolicy name=MMPol"],
            run: edit(deleteMainModePolicy)
        ),
        NetshCommand(
            "add",
            "qmpolicy",
            summary: "Adds a quick mode policy to the SPD.",
            parameters: [.name("quick mode policy")] + quickModeSettings,
            required: [["name"]],
            examples: ["add qmpolicy name=QMPol soft=yes pfsgroup=grp3 qmsec=\"AH[MD5]:10000k/24000s ESP[DES,SHA1]\""],
            run: edit(addQuickModePolicy)
        ),
        NetshCommand(
            "set",
            "qmpolicy",
            summary: "Modifies quick mode policies in the SPD.",
            parameters: [.name("quick mode policy"), .all("quick mode policies")] + quickModeSettings,
            required: [["name", "all"]],
            examples: ["set qmpolicy name=QMPol soft=no"],
            run: edit(setQuickModePolicy)
        ),
        NetshCommand(
            "delete",
            "qmpolicy",
            summary: "Deletes quick mode policies from the SPD.",
            parameters: [.name("quick mode policy"), .all("quick mode policies")],
            required: [["name", "all"]],
            remarks: ["A quick mode policy that a rule uses cannot be deleted."],
            examples: ["delete qmpolicy all"],
            run: edit(deleteQuickModePolicy)
        ),
    ]

    func addMainModePolicy(_ arguments: NetshArguments, _ spd: inout NetshSPD) throws(NetshError) -> String {
        let name = arguments.string("name") ?? ""
        guard spd.policy.mainModePolicy(named: name) == nil else { throw .exists("Main mode policy", name) }
        var policy = DynamicMainModePolicy(name: name)
        try applyMainModeSettings(arguments, &policy)
        spd.policy.mainModePolicies.append(policy)
        return ""
    }

    func setMainModePolicy(_ arguments: NetshArguments, _ spd: inout NetshSPD) throws(NetshError) -> String {
        let indices = try selected(arguments, spd.policy.mainModePolicies.map(\.name), kind: "Main mode policy")
        for index in indices { try applyMainModeSettings(arguments, &spd.policy.mainModePolicies[index]) }
        return ""
    }

    func deleteMainModePolicy(_ arguments: NetshArguments, _ spd: inout NetshSPD) throws(NetshError) -> String {
        let indices = try selected(arguments, spd.policy.mainModePolicies.map(\.name), kind: "Main mode policy")
        for index in indices {
            let name = spd.policy.mainModePolicies[index].name
            if spd.policy.rules.contains(where: { $0.mainModePolicy.caseInsensitiveEquals(name) }) {
                throw NetshError(
                    "Main mode policy \"\(name)\" is used by a rule and cannot be deleted. Delete the rule first."
                )
            }
        }
        spd.policy.mainModePolicies = spd.policy.mainModePolicies.enumerated().filter { !indices.contains($0.offset) }
            .map(
                \.element
            )
        return ""
    }

    func addQuickModePolicy(_ arguments: NetshArguments, _ spd: inout NetshSPD) throws(NetshError) -> String {
        let name = arguments.string("name") ?? ""
        guard spd.policy.quickModePolicy(named: name) == nil else { throw .exists("Quick mode policy", name) }
        var policy = DynamicQuickModePolicy(name: name)
        try applyQuickModeSettings(arguments, &policy)
        spd.policy.quickModePolicies.append(policy)
        return ""
    }

    func setQuickModePolicy(_ arguments: NetshArguments, _ spd: inout NetshSPD) throws(NetshError) -> String {
        let indices = try selected(arguments, spd.policy.quickModePolicies.map(\.name), kind: "Quick mode policy")
        for index in indices { try applyQuickModeSettings(arguments, &spd.policy.quickModePolicies[index]) }
        return ""
    }

    func deleteQuickModePolicy(_ arguments: NetshArguments, _ spd: inout NetshSPD) throws(NetshError) -> String {
        let indices = try selected(arguments, spd.policy.quickModePolicies.map(\.name), kind: "Quick mode policy")
        for index in indices {
            let name = spd.policy.quickModePolicies[index].name
            if spd.policy.rules.contains(where: { $0.quickModePolicy?.caseInsensitiveEquals(name) == true }) {
                throw NetshError(
                    "Quick mode policy \"\(name)\" is used by a rule and cannot be deleted. Delete the rule first."
                )
            }
        }
        spd.policy.quickModePolicies = spd.policy.quickModePolicies.enumerated().filter { !indices.contains($0.offset) }
            .map(
                \.element
            )
        return ""
    }

    /// The indices named by `name=` or `all`.
    func selected(_ arguments: NetshArguments, _ names: [String], kind: String) throws(NetshError) -> [Int] {
        if arguments.has("all") { return Array(names.indices) }
        let name = arguments.string("name") ?? ""
        guard let index = names.firstIndex(where: { $0.caseInsensitiveEquals(name) }) else {
            throw .notFound(kind, name)
        }
        return [index]
    }

    private func applyMainModeSettings(
        _ arguments: NetshArguments,
        _ policy: inout DynamicMainModePolicy
    )
        throws(NetshError)
    {
        if let methods = arguments.string("mmsecmethods") {
            policy.securityMethods = try NetshSecurityMethods.parseMainMode(methods)
        }
        if let limit = try arguments.integer("qmpermm", in: 0...Int(Int32.max)) {
            policy.quickModeLimit = UInt32(limit)
        }
        if let minutes = try arguments.integer("mmlifetime", in: 1...71_582_788) {
            policy.lifetimeMinutes = UInt32(minutes)
        }
        if let seconds = try arguments.integer("softsaexpirationtime", in: 0...Int(Int32.max)) {
            policy.softSAExpirationSeconds = UInt32(seconds)
        }
        for index in policy.securityMethods.indices {
            policy.securityMethods[index].lifetimeSeconds = policy.lifetimeMinutes * 60
            policy.securityMethods[index].quickModeLimit = policy.quickModeLimit
        }
    }

    private func applyQuickModeSettings(
        _ arguments: NetshArguments,
        _ policy: inout DynamicQuickModePolicy
    )
        throws(NetshError)
    {
        if let soft = try arguments.bool("soft") { policy.soft = soft }
        if let group = try arguments.choice("pfsgroup", DynamicPFSGroup.allCases.map { ($0.rawValue, $0) }) {
            policy.pfsGroup = group
        }
        if let methods = arguments.string("qmsecmethods") {
            policy.offers = try NetshSecurityMethods.parseQuickMode(methods)
        }
        for index in policy.offers.indices { policy.offers[index].perfectForwardSecrecy = policy.pfsGroup != .none }
    }
}
