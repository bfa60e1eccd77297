import PolicyModel

/// `add|set|delete filterlist` and `add|delete filter`.
extension NetshStaticSession {
    static let filterFieldParameters: [NetshParameter] = [
        .protocolParameter,
        .mirrored,
        .mask("srcmask", "Source"),
        .mask("dstmask", "Destination"),
        .port("srcport", "Source"),
        .port("dstport", "Destination"),
    ]

    static let filterListCommands: [NetshCommand<NetshStaticSession>] = [
        NetshCommand(
            "add",
            "filterlist",
            summary: "Creates an empty filter list.",
            parameters: [.name("filter list"), .description("filter list")],
            required: [["name"]],
            examples: ["add filterlist Filter1"],
            run: edit(addFilterList)
        ),
        NetshCommand(
            "set",
            "filterlist",
            summary: "Modifies a filter list.",
            parameters: [
                .name("filter list"), .guid("filter list"), .newName("filter list"), .description("filter list"),
            ],
            required: [["name", "guid"]],
            examples: ["set filterlist Filter1 desc=NewDescription"],
            run: edit(setFilterList)
        ),
        NetshCommand(
            "delete",
            "filterlist",
            summary: "Deletes a filter list.",
            parameters: [.name("filter list"), .all("filter lists")],
            required: [["name", "all"]],
            remarks: [
                "A filter list that a rule uses cannot be deleted; 'all' deletes every filter list that no rule uses."
            ],
            examples: ["delete filterlist Filter1"],
            run: edit(deleteFilterList)
        ),
        NetshCommand(
            "add",
            "filter",
            summary: "Adds a filter to a filter list.",
            parameters: [
                NetshParameter(
                    "filterlist",
                    NetshParameter.string,
                    "Name of the filter list to which the filter is added."
                ),
                .address("srcaddr", "Source"),
                .address("dstaddr", "Destination"),
                NetshParameter("description", NetshParameter.string, "Brief information about the filter."),
            ] + filterFieldParameters,
            required: [["filterlist"], ["srcaddr"], ["dstaddr"]],
            remarks: [
                "If the filter list does not exist it is created.",
                "To specify the current computer's address, set srcaddr=me or dstaddr=me; to specify any computer, set srcaddr=any or dstaddr=any.",
                "If one side is a server type (WINS, DNS, DHCP, GATEWAY), the other side is this computer (me).",
                "A DNS name is resolved when the filter is added, one filter per address.",
            ],
            examples: [
                "add filter filterlist=Filter1 198.18.2.1 198.18.2.2 srcmask=24 protocol=TCP dstport=80"
            ],
            run: edit(addFilter)
        ),
        NetshCommand(
            "delete",
            "filter",
            summary: "Deletes filters from a filter list.",
            parameters: [
                NetshParameter(
                    "filterlist",
                    NetshParameter.string,
                    "Name of the filter list from which filters are deleted."
                ),
                .address("srcaddr", "Source"),
                .address("dstaddr", "Destination"),
            ] + filterFieldParameters,
            required: [["filterlist"], ["srcaddr"], ["dstaddr"]],
            remarks: ["Every filter of the list that matches all the given fields is deleted."],
            examples: ["delete filter Filter1 198.18.2.1 any protocol=TCP"],
            run: edit(deleteFilter)
        ),
    ]

    func addFilterList(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        let name = arguments.string("name") ?? ""
        guard store.filterListNames.positions(named: name).isEmpty else { throw .exists("Filter List", name) }
        store.appendFilterList(
            FilterList(
                id: environment.newGUID(),
                name: name,
                description: arguments.string("description") ?? "",
                whenChanged: now
            )
        )
        return ""
    }

    func setFilterList(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        let index = try filterListIndex(arguments, store)
        // A new name that differs only in letter case leaves the name as it is.
        let newName = arguments.string("newname").flatMap { newName in
            newName.caseInsensitiveEquals(store.store.filterLists[index].name) ? nil : newName
        }
        if let newName, !store.filterListNames.positions(named: newName).isEmpty {
            throw .exists("Filter List", newName)
        }
        store.modifyFilterList(at: index) { list in
            if let newName { list.name = newName }
            if let description = arguments.string("description") { list.description = description }
            list.whenChanged = now
        }
        return ""
    }

    func deleteFilterList(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        if arguments.has("all") {
            return store.modify { store in
                let used = Set(store.policies.flatMap(\.rules).flatMap(\.filterListIDs))
                let kept = store.filterLists.filter { used.contains($0.id) }
                store.filterLists.removeAll { !used.contains($0.id) }
                return kept.map { "Filter list \"\($0.name)\" is used by a rule and was not deleted.\n" }.joined()
            }
        }
        let index = try filterListIndex(arguments, store)
        let list = store.store.filterLists[index]
        if let (policy, rule) = store.store.firstRule(where: { $0.filterListIDs.contains(list.id) }) {
            throw NetshError(
                "Filter list \"\(list.name)\" is used by rule \"\(rule.name)\" of policy \"\(policy.name)\" and cannot be deleted. Delete the rule or change its filter list first."
            )
        }
        store.removeFilterList(at: index)
        return ""
    }

    func addFilter(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        let listName = arguments.string("filterlist") ?? ""
        let match = store.filterListMatch(listName)
        var index =
            match == .none
            ? nil : try match.required("Filter List", plural: "filter lists", name: listName, parameter: "filterlist")
        if index == nil {
            store.appendFilterList(FilterList(id: environment.newGUID(), name: listName, whenChanged: now))
            index = store.store.filterLists.count - 1
        }
        guard let index else { return "" }
        let fields = try FilterFields(arguments, resolver: environment.resolver)
        let description = arguments.string("description") ?? ""
        store.modifyFilterList(at: index) { list in
            for source in fields.sources {
                for destination in fields.destinations {
                    list.filters.append(
                        fields.filter(
                            id: environment.newGUID(),
                            description: description,
                            source: source,
                            destination: destination
                        )
                    )
                }
            }
            list.whenChanged = now
        }
        return ""
    }

    func deleteFilter(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        let listName = arguments.string("filterlist") ?? ""
        let index = try store.filterListMatch(listName)
            .required("Filter List", plural: "filter lists", name: listName, parameter: "filterlist")
        let fields = try FilterFields(arguments, resolver: environment.resolver)
        try store.modifyFilterList(at: index) { list throws(NetshError) in
            let before = list.filters.count
            list.filters.removeAll(where: fields.matches)
            guard list.filters.count < before else {
                throw NetshError("No filter of filter list \"\(listName)\" matches the given parameters.")
            }
            list.whenChanged = now
        }
        return ""
    }

    func filterListIndex(_ arguments: NetshArguments, _ store: IndexedPolicyStore) throws(NetshError) -> Int {
        if let text = arguments.string("guid") {
            guard let guid = IPsecGUID(text) else { throw .invalidValue("guid", text, accepted: "a GUID") }
            guard let index = store.filterListPosition(id: guid) else {
                throw NetshError("Filter list with GUID \(guid.braced) does not exist.")
            }
            return index
        }
        let name = arguments.string("name") ?? ""
        return try store.filterListMatch(name).required(
            "Filter List",
            plural: "filter lists",
            name: name,
            parameter: "name"
        )
    }
}

/// The filter fields of one `add filter` / `delete filter` line, parsed and checked.
struct FilterFields {
    var sources: [FilterAddress] = []
    var destinations: [FilterAddress] = []
    var ipProtocol: UInt8?
    var mirrored: Bool?
    var sourcePort: UInt16?
    var destinationPort: UInt16?

    /// The filter these fields give between one source and one destination, with netsh's defaults for
    /// what the command line left out (mirrored, any protocol, any port): `add filter` and dynamic
    /// `add rule` build their filters this way.
    func filter(id: IPsecGUID, description: String = "", source: FilterAddress, destination: FilterAddress) -> Filter {
        Filter(
            id: id,
            description: description,
            mirrored: mirrored ?? true,
            source: source,
            destination: destination,
            ipProtocol: ipProtocol ?? IPProtocol.any,
            sourcePort: sourcePort ?? 0,
            destinationPort: destinationPort ?? 0
        )
    }

    init(_ arguments: NetshArguments, resolver: any NetshNameResolver) throws(NetshError) {
        if let text = arguments.string("protocol") { ipProtocol = try NetshAddressing.parseProtocol(text) }
        mirrored = try arguments.bool("mirrored")
        if let text = arguments.string("srcport") { sourcePort = try NetshAddressing.parsePort(text, tag: "srcport") }
        if let text = arguments.string("dstport") {
            destinationPort = try NetshAddressing.parsePort(text, tag: "dstport")
        }
        try NetshAddressing.checkPorts(
            protocol: ipProtocol ?? IPProtocol.any,
            source: sourcePort ?? 0,
            destination: destinationPort ?? 0
        )
        // Each side is parsed when given (the `show` queries give one side only).
        var source = try arguments.string("srcaddr").map { text throws(NetshError) in
            try NetshAddressing.parseAddress(text, tag: "srcaddr")
        }
        var destination = try arguments.string("dstaddr").map { text throws(NetshError) in
            try NetshAddressing.parseAddress(text, tag: "dstaddr")
        }
        // A server type on one side makes the other side this computer, as Windows does.
        if case .server = source, destination != nil { destination = .me }
        if case .server = destination, source != nil { source = .me }
        let srcMask = try arguments.string("srcmask").map { text throws(NetshError) in
            try NetshAddressing.parseMask(text, tag: "srcmask")
        }
        let dstMask = try arguments.string("dstmask").map { text throws(NetshError) in
            try NetshAddressing.parseMask(text, tag: "dstmask")
        }
        if let source {
            sources = try NetshAddressing.filterAddresses(
                source,
                mask: srcMask ?? .broadcast,
                tag: "srcaddr",
                resolver: resolver
            )
        }
        if let destination {
            destinations = try NetshAddressing.filterAddresses(
                destination,
                mask: dstMask ?? .broadcast,
                tag: "dstaddr",
                resolver: resolver
            )
        }
    }

    /// Whether `filter` has every field given (addresses always, the others when present).
    func matches(_ filter: Filter) -> Bool {
        guard sources.contains(where: { Self.sameSide($0, filter.source) }),
            destinations.contains(where: { Self.sameSide($0, filter.destination) })
        else { return false }
        if let ipProtocol, filter.ipProtocol != ipProtocol { return false }
        if let mirrored, filter.mirrored != mirrored { return false }
        if let sourcePort, filter.sourcePort != sourcePort { return false }
        if let destinationPort, filter.destinationPort != destinationPort { return false }
        return true
    }

    /// DNS-name sides match on the resolved address as well as on the name.
    private static func sameSide(_ given: FilterAddress, _ stored: FilterAddress) -> Bool {
        switch (given, stored) {
        case (.dnsName(let a, _), .dnsName(let b, _)): a.caseInsensitiveEquals(b)
        case (.host(let a), .dnsName(_, let b)): a == b
        default: given == stored
        }
    }
}

extension PolicyStore {
    /// The first rule of any policy that satisfies `predicate`, with its policy.
    func firstRule(where predicate: (Rule) -> Bool) -> (IPsecPolicy, Rule)? {
        for policy in policies {
            if let rule = policy.rules.first(where: predicate) { return (policy, rule) }
        }
        return nil
    }
}
