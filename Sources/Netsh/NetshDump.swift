public import PolicyModel

/// `netsh ipsec static dump`: a script that recreates a store when run on an empty one.
///
/// The script is written the way netsh writes its dumps — comment header, `pushd ipsec static`,
/// the commands, `popd` — and only uses commands and values that ``NetshStaticSession`` reads back
/// to the same store (GUIDs and times aside).
public enum NetshDump {
    public static func script(for store: PolicyStore, location: NetshStoreLocation) -> String {
        var lines: [String] = [
            "# ----------------------------------",
            "# IPsec Configuration",
            "# ----------------------------------",
            "pushd ipsec static",
            "",
            "set store location=\(location.rawValue)",
        ]
        if !store.filterLists.isEmpty {
            lines += ["", "# Filter lists"]
            for list in store.filterLists { lines += filterList(list) }
        }
        let actions = store.filterActions.filter { $0.type == .standard }
        if !actions.isEmpty {
            lines += ["", "# Filter actions"]
            for action in actions { lines.append(filterAction(action)) }
        }
        // Rules find their filter lists and actions in the index, not by a scan of the store.
        let indexed = IndexedPolicyStore(store)
        for policy in store.policies {
            lines += ["", "# Policy \(policy.name)"]
            lines += self.policy(policy, in: indexed)
        }
        lines += ["", "popd", "# End of IPsec configuration"]
        return lines.joined(separator: "\n") + "\n"
    }

    static func filterList(_ list: FilterList) -> [String] {
        var lines = ["add filterlist name=\(q(list.name)) description=\(q(list.description))"]
        var previous: Filter?
        for filter in list.filters {
            // One `add filter` with a DNS name makes a filter per address: write the name once.
            if let before = previous, case .dnsName = filter.source, sameExceptResolvedAddresses(before, filter) {
                continue
            }
            if let before = previous, case .dnsName = filter.destination, sameExceptResolvedAddresses(before, filter) {
                continue
            }
            previous = filter
            let source = NetshAddressing.format(filter.source)
            let destination = NetshAddressing.format(filter.destination)
            lines.append(
                "add filter filterlist=\(q(list.name)) srcaddr=\(source.address) dstaddr=\(destination.address)"
                    + " description=\(q(filter.description)) protocol=\(IPProtocol.name(filter.ipProtocol))"
                    + " mirrored=\(yesNo(filter.mirrored)) srcmask=\(source.mask) dstmask=\(destination.mask)"
                    + " srcport=\(filter.sourcePort) dstport=\(filter.destinationPort)"
            )
        }
        return lines
    }

    static func filterAction(_ action: FilterAction) -> String {
        var line =
            "add filteraction name=\(q(action.name)) description=\(q(action.description))"
            + " qmpfs=\(yesNo(action.quickModePFS)) inpass=\(yesNo(action.inboundPassThrough))"
            + " soft=\(yesNo(action.allowFallbackToClear)) action=\(action.action.rawValue)"
        if action.action == .negotiate && !action.offers.isEmpty {
            line += " qmsecmethods=\(q(NetshSecurityMethods.format(action.offers)))"
        }
        return line
    }

    static func policy(_ policy: IPsecPolicy, in store: IndexedPolicyStore) -> [String] {
        let main = policy.mainMode
        let lifetime = main.lifetimeSeconds == 0 ? MainModeSettings.defaultLifetimeSeconds : main.lifetimeSeconds
        let defaultRule = policy.defaultResponseRule
        var lines = [
            "add policy name=\(q(policy.name)) description=\(q(policy.description))"
                + " mmpfs=\(yesNo(main.masterKeyPFS)) qmpermm=\(main.quickModeLimit) mmlifetime=\(lifetime / 60)"
                + " activatedefaultrule=\(yesNo(defaultRule?.isActive ?? true))"
                + " pollinginterval=\(policy.effectivePollingIntervalSeconds / 60)"
                + " assign=\(yesNo(store.store.assignedPolicyID == policy.id))"
                + (main.securityMethods.isEmpty
                    ? "" : " mmsecmethods=\(q(NetshSecurityMethods.format(main.securityMethods)))")
        ]
        if let defaultRule {
            var line = "set defaultrule policy=\(q(policy.name))"
            if let action = defaultRule.filterActionID.flatMap(store.filterAction(id:)), !action.offers.isEmpty {
                line +=
                    " qmpfs=\(yesNo(action.quickModePFS)) qmsecmethods=\(q(NetshSecurityMethods.format(action.offers)))"
            }
            line += authentication(defaultRule.authenticationMethods)
            lines.append(line)
        }
        for rule in policy.rules where !rule.isDefaultResponse {
            guard let listID = rule.filterListIDs.first, let list = store.filterList(id: listID),
                let action = rule.filterActionID.flatMap(store.filterAction(id:))
            else {
                lines.append("# Rule \(q(rule.name)) has no filter list or filter action; netsh cannot express it.")
                continue
            }
            var line =
                "add rule name=\(q(rule.name)) policy=\(q(policy.name)) filterlist=\(q(list.name))"
                + " filteraction=\(q(action.name)) conntype=\(rule.interfaceType.rawValue)"
                + " activate=\(yesNo(rule.isActive)) description=\(q(rule.description))"
            if let tunnel = rule.tunnelEndpoint {
                line += " tunnel=\(rule.tunnelEndpointName.isEmpty ? tunnel.description : rule.tunnelEndpointName)"
            }
            line += authentication(rule.authenticationMethods)
            lines.append(line)
        }
        return lines
    }

    /// ` kerberos=yes psk="..." rootca="..."` in preference order.
    static func authentication(_ methods: [AuthenticationMethod]) -> String {
        var text = ""
        for method in methods {
            switch method {
            case .kerberos: text += " kerberos=yes"
            case .preSharedKey(let key): text += " psk=\(q(key))"
            case .certificate(let ca): text += " rootca=\(q(NetshSecurityMethods.format(ca)))"
            }
        }
        if !methods.contains(.kerberos) && !methods.isEmpty { text = " kerberos=no" + text }
        return text
    }

    private static func sameExceptResolvedAddresses(_ a: Filter, _ b: Filter) -> Bool {
        func name(_ side: FilterAddress) -> FilterAddress {
            if case .dnsName(let n, _) = side { return .dnsName(n.lowercased(), address: .any) }
            return side
        }
        return name(a.source) == name(b.source) && name(a.destination) == name(b.destination)
            && a.description == b.description && a.mirrored == b.mirrored && a.ipProtocol == b.ipProtocol
            && a.sourcePort == b.sourcePort && a.destinationPort == b.destinationPort
    }

    static func q(_ value: String) -> String { "\"" + value + "\"" }

    static func yesNo(_ value: Bool) -> String { value ? "yes" : "no" }
}
