import PolicyModel

/// `set store`, `set batch`, `delete all`, `exportpolicy`, `importpolicy`, `dump`.
extension NetshStaticSession {
    static let storeCommands: [NetshCommand<NetshStaticSession>] = [
        NetshCommand(
            "set",
            "store",
            summary: "Sets the current policy store.",
            parameters: [
                NetshParameter("location", "(local | persistent | domain)", "Location of the IPsec policy store."),
                NetshParameter("domain", NetshParameter.string, "Domain name (only with location=domain)."),
            ],
            required: [["location"]],
            remarks: [
                "The store stays set for the rest of the netsh session; the default is the local store.",
                "The persistent store is applied first at every service start, before the local or domain policy.",
                "The domain store shows the directory policy; ipsecsvc does not change it.",
            ],
            examples: ["set store location=persistent", "set store location=domain domain=example.test"],
            run: setStore
        ),
        NetshCommand(
            "set",
            "batch",
            summary: "Sets the batch update mode.",
            parameters: [NetshParameter("mode", "(enable | disable)", "Enables or disables batch mode.")],
            required: [["mode"]],
            remarks: [
                "While batch mode is enabled, changes are kept and written to the store once, when it is disabled or netsh exits."
            ],
            examples: ["set batch mode=enable"],
            run: setBatchMode
        ),
        NetshCommand(
            "delete",
            "all",
            summary: "Deletes all policies, filter lists and filter actions of the current store.",
            run: edit(deleteAll)
        ),
        NetshCommand(
            "exportpolicy",
            nil,
            summary: "Exports all the policies of the current store to a file.",
            parameters: [NetshParameter("file", NetshParameter.string, "Name of the file.")],
            required: [["file"]],
            remarks: [
                "The file is written in ipsecsvc's native policy XML; a name ending in .reg writes a registry export instead."
            ],
            examples: ["exportpolicy file=/root/ipsec-backup.xml"],
            run: exportPolicy
        ),
        NetshCommand(
            "importpolicy",
            nil,
            summary: "Imports the policies from a file into the current store.",
            parameters: [NetshParameter("file", NetshParameter.string, "Name of the file.")],
            required: [["file"]],
            remarks: [
                "Objects with the GUID of an existing object replace it; imported policies are not assigned."
            ],
            examples: ["importpolicy file=/root/ipsec-backup.xml"],
            run: importPolicy
        ),
        NetshCommand(
            "dump",
            nil,
            summary: "Displays a configuration script that recreates the current store.",
            run: dump
        ),
    ]

    func setStore(_ arguments: NetshArguments) throws(NetshError) -> String {
        let location =
            try arguments.choice(
                "location",
                [
                    ("local", NetshStoreLocation.local), ("persistent", .persistent), ("domain", .domain),
                ]
            ) ?? .local
        if arguments.has("domain") && location != .domain {
            throw NetshError("The parameter 'domain' is valid only with location=domain.")
        }
        setLocation(location, domain: arguments.string("domain"))
        return ""
    }

    func setBatchMode(_ arguments: NetshArguments) throws(NetshError) -> String {
        try setBatch(arguments.choice("mode", [("enable", true), ("disable", false)]) ?? false)
        return ""
    }

    func deleteAll(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        store = IndexedPolicyStore(PolicyStore())
        return ""
    }

    func dump(_ arguments: NetshArguments) throws(NetshError) -> String {
        try NetshDump.script(for: currentStore(), location: location)
    }

    func exportPolicy(_ arguments: NetshArguments) throws(NetshError) -> String {
        try backend.exportStore(currentStore(), to: arguments.string("file") ?? "")
        return ""
    }

    func importPolicy(_ arguments: NetshArguments) throws(NetshError) -> String {
        let imported = try backend.importStore(from: arguments.string("file") ?? "")
        return try edit { store throws(NetshError) in
            store.modify { $0.merge(imported) }
            return ""
        }
    }
}
