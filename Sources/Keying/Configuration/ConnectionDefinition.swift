import PolicyModel

/// Writes one connection's `load-conn` section (the swanctl.conf `connections.<name>` tree).
enum ConnectionDefinition {
    static func make(
        _ plan: KeyingPlanner.ConnectionPlan,
        _ authentication: KeyingPlanner.Authentication,
        datapath: KeyingDatapath,
        startsNegotiations: Bool
    ) -> ViciMessage {
        var connection = ViciMessage()
        // Windows Server 2003 speaks IKEv1 Main Mode only, and does no dead peer detection.
        connection["version"] = "1"
        connection["aggressive"] = "no"
        connection["remote_addrs"] = .texts([plan.remoteAddress])
        connection["proposals"] = .texts(mainModeProposals(plan.mainMode))
        // IKEv1 cannot rekey an IKE SA: the main-mode lifetime is a re-authentication interval.
        let lifetime =
            plan.mainMode.lifetimeSeconds == 0 ? MainModeSettings.defaultLifetimeSeconds : plan.mainMode.lifetimeSeconds
        connection["rekey_time"] = "0"
        connection["reauth_time"] = .text(String(lifetime))
        connection["dpd_delay"] = "0"
        // ipsecsvc decides when to try again (the next packet, soft fallback): one try each time.
        connection["keyingtries"] = "1"
        // Windows peers re-authenticate freely; never tear down an SA because a peer came back.
        connection["unique"] = "never"
        switch authentication {
        case .preSharedKey:
            // Identities are IP addresses (ID_IPV4_ADDR), as Windows sends them; charon's default.
            connection["local-1"] = ["auth": "psk"]
            var remote: ViciMessage = ["auth": "psk"]
            if case .host(let ip) = plan.peer { remote["id"] = .text(ip.description) }
            connection["remote-1"] = .section(remote)
        case .certificate(let authority, let host):
            connection["send_certreq"] = plan.mainMode.omitCertificateRequest ? "no" : "yes"
            var local: ViciMessage = ["auth": "pubkey"]
            local["certs"] = .list([host.der])
            connection["local-1"] = .section(local)
            var remote: ViciMessage = ["auth": "pubkey", "id": "%any"]
            remote["cacerts"] = .list([authority.der])
            connection["remote-1"] = .section(remote)
        }
        var children = ViciMessage()
        for child in plan.children {
            children[child.name] = .section(childDefinition(child, startsNegotiations: startsNegotiations))
        }
        connection["children"] = .section(children)
        return connection
    }

    /// The main-mode offers in order, without repeats.
    static func mainModeProposals(_ mainMode: MainModeSettings) -> [String] {
        var proposals: [String] = []
        let methods =
            mainMode.securityMethods.isEmpty ? MainModeSecurityMethod.windowsDefaults : mainMode.securityMethods
        for method in methods {
            let proposal = StrongSwanNames.proposal(method)
            if !proposals.contains(proposal) { proposals.append(proposal) }
        }
        return proposals
    }

    static func childDefinition(_ child: KeyingPlanner.ChildPlan, startsNegotiations: Bool) -> ViciMessage {
        var definition = ViciMessage()
        // libipsec has tunnel mode only: host /32 selectors on both ends make it carry exactly the
        // traffic a transport-mode SA would.
        definition["mode"] = child.tunnel ? "tunnel" : "transport"
        definition["local_ts"] = .texts(child.localSelectors)
        definition["remote_ts"] = .texts(child.remoteSelectors)
        if !child.espProposals.isEmpty { definition["esp_proposals"] = .texts(child.espProposals) }
        if !child.ahProposals.isEmpty { definition["ah_proposals"] = .texts(child.ahProposals) }
        let seconds = child.lifetimeSeconds == 0 ? KeyingPlanner.defaultQuickModeSeconds : child.lifetimeSeconds
        let kilobytes =
            child.lifetimeKilobytes == 0 ? KeyingPlanner.defaultQuickModeKilobytes : child.lifetimeKilobytes
        // The offer's lifetime is the hard limit charon proposes; rekey at 90 % of it.
        definition["life_time"] = .text(String(seconds))
        definition["rekey_time"] = .text(String(UInt64(seconds) * 9 / 10))
        definition["life_bytes"] = .text(String(UInt64(kilobytes) * 1024))
        definition["rekey_bytes"] = .text(String(UInt64(kilobytes) * 1024 * 9 / 10))
        definition["start_action"] = child.trapped && startsNegotiations ? "trap" : "none"
        definition["close_action"] = "none"
        definition["dpd_action"] = "clear"
        return definition
    }
}
