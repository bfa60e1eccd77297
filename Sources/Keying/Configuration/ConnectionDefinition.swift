import PolicyModel

/// Writes one connection's `load-conn` section (the swanctl.conf `connections.<name>` tree) from its
/// values, when it is loaded or shown.
enum ConnectionDefinition {
    static func make(_ connection: IKEConnection) -> ViciMessage {
        let settings = connection.settings
        var definition = ViciMessage()
        // Windows Server 2003 speaks IKEv1 Main Mode only, and does no dead peer detection.
        definition["version"] = "1"
        definition["aggressive"] = "no"
        definition["remote_addrs"] = .texts([connection.peer.remoteAddress])
        definition["proposals"] = .texts(settings.mainModeProposals)
        // IKEv1 cannot rekey an IKE SA: the main-mode lifetime is a re-authentication interval.
        definition["rekey_time"] = "0"
        definition["reauth_time"] = .text(String(settings.reauthSeconds))
        definition["dpd_delay"] = "0"
        // ipsecsvc decides when to try again (the next packet, soft fallback): one try each time.
        definition["keyingtries"] = "1"
        // Windows peers re-authenticate freely; never tear down an SA because a peer came back.
        definition["unique"] = "never"
        switch settings.authentication {
        case .preSharedKey:
            // Identities are IP addresses (ID_IPV4_ADDR), as Windows sends them; charon's default.
            definition["local-1"] = ["auth": "psk"]
            var remote: ViciMessage = ["auth": "psk"]
            if case .host(let ip) = connection.peer { remote["id"] = .text(ip.description) }
            definition["remote-1"] = .section(remote)
        case .certificate(let authority, let host, let sendsCertificateRequest):
            definition["send_certreq"] = sendsCertificateRequest ? "yes" : "no"
            var local: ViciMessage = ["auth": "pubkey"]
            local["certs"] = .list([host])
            definition["local-1"] = .section(local)
            var remote: ViciMessage = ["auth": "pubkey", "id": "%any"]
            remote["cacerts"] = .list([authority])
            definition["remote-1"] = .section(remote)
        }
        var children = ViciMessage()
        for child in connection.children {
            children[child.name] = .section(
                childDefinition(child, startsNegotiations: connection.startsNegotiations)
            )
        }
        definition["children"] = .section(children)
        return definition
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

    static func childDefinition(_ child: IKEChild, startsNegotiations: Bool) -> ViciMessage {
        var definition = ViciMessage()
        // libipsec has tunnel mode only: host /32 selectors on both ends make it carry exactly the
        // traffic a transport-mode SA would.
        definition["mode"] = child.tunnel ? "tunnel" : "transport"
        definition["local_ts"] = .texts([child.local.text])
        definition["remote_ts"] = .texts([child.remote.text])
        let security = child.security
        if !security.espProposals.isEmpty { definition["esp_proposals"] = .texts(security.espProposals) }
        if !security.ahProposals.isEmpty { definition["ah_proposals"] = .texts(security.ahProposals) }
        let seconds = security.lifetimeSeconds
        let kilobytes = security.lifetimeKilobytes
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
