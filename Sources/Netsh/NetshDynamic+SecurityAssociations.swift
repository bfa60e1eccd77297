public import Keying
import PolicyModel

/// The live security associations for `show mmsas|qmsas`, as the service gathered them.
public enum NetshSecurityAssociations: Hashable, Sendable {
    /// The service does not negotiate IKE (`ike = none`, or not gathered).
    case none
    /// Keying could not list them (charon is not available: the reason).
    case unavailable(String)
    case listed(KeyingAssociations)
}

extension NetshDynamicSession {
    func showMainModeSecurityAssociations(_ arguments: NetshArguments) throws(NetshError) -> String {
        showSecurityAssociations(quickMode: false, arguments)
    }

    func showQuickModeSecurityAssociations(_ arguments: NetshArguments) throws(NetshError) -> String {
        showSecurityAssociations(quickMode: true, arguments)
    }

    /// `show mmsas` and `show qmsas`, in the layout of Windows Server 2003, filtered by `srcaddr`,
    /// `dstaddr` (either end matches) and, for quick modes, `protocol`: the live SAs the service
    /// gathered from keying (``NetshSPD/securityAssociations``).
    func showSecurityAssociations(quickMode: Bool, _ arguments: NetshArguments) -> String {
        let associations: KeyingAssociations
        switch spd.securityAssociations {
        case .none:
            return "No security associations: this service does not negotiate IKE (ike = none).\n"
        case .unavailable(let reason):
            return "No security associations: \(reason).\n"
        case .listed(let listed):
            associations = listed
        }
        let wanted = [arguments.string("srcaddr"), arguments.string("dstaddr")].compactMap { $0 }
        func selected(_ local: String, _ remote: String) -> Bool {
            wanted.allSatisfy { $0.lowercased() == "all" || $0 == local || $0 == remote }
        }
        var text = NetshText()
        if quickMode {
            let protocolFilter = arguments.string("protocol").flatMap { IPProtocol.parse($0) }
            let quickModes = associations.quickModes.filter { sa in
                selected(sa.local, sa.remote)
                    && (protocolFilter == nil || protocolFilter == 0
                        || (sa.remoteSelectors + sa.localSelectors).contains { Self.protocolOf($0) == protocolFilter })
            }
            text.heading("Quick Mode SAs")
            if quickModes.isEmpty && associations.softAssociations.isEmpty {
                text.line("There are no quick mode security associations.")
            }
            for sa in quickModes {
                text.line(
                    sa.mode == "TUNNEL" && sa.localSelectors.allSatisfy { !$0.hasSuffix("/32") }
                        ? "Tunnel Filter" : "Transport Filter"
                )
                text.field("Source Address", sa.localSelectors.joined(separator: ", "))
                text.field("Destination Address", sa.remoteSelectors.joined(separator: ", "))
                text.field("Tunnel Source", sa.local)
                text.field("Tunnel Destination", sa.remote)
                text.field("Mode", sa.mode)
                text.field("Offer Used", Self.offer(sa))
                text.field("Inbound SPI", sa.spiIn)
                text.field("Outbound SPI", sa.spiOut)
                text.field("Bytes In / Out", "\(sa.bytesIn) / \(sa.bytesOut)")
                text.field("Packets In / Out", "\(sa.packetsIn) / \(sa.packetsOut)")
                if let lifetime = sa.lifetimeSeconds { text.field("Lifetime Left (s)", "\(lifetime)") }
                if let rule = sa.rule { text.field("Rule", rule.label) }
                text.line()
            }
            for soft in associations.softAssociations where selected("", soft.peer.description) {
                text.line("Soft Association (unsecured: the peer did not answer IKE)")
                text.field("Peer", soft.peer.description)
                text.field("Idle (s)", "\(soft.idleSeconds) of \(soft.idleLimitSeconds)")
                text.field("Rule", soft.rule.label)
                text.line()
            }
        } else {
            let mainModes = associations.mainModes.filter { selected($0.local, $0.remote) }
            text.heading("Main Mode SAs")
            if mainModes.isEmpty { text.line("There are no main mode security associations.") }
            for sa in mainModes {
                text.field("Cookie Pair", "\(sa.initiatorCookie):\(sa.responderCookie)")
                text.field(
                    "Sec Methods",
                    [sa.encryption, sa.integrity, sa.group].filter { !$0.isEmpty }.joined(separator: "/")
                )
                text.field("Source", "\(sa.local)\(sa.initiator ? " (initiator)" : "")")
                text.field("Destination", sa.remote)
                text.field("Local ID", sa.localID)
                text.field("Peer ID", sa.remoteID)
                text.field("State", sa.state)
                if let seconds = sa.establishedSeconds { text.field("Established (s)", "\(seconds)") }
                if let rule = sa.rule { text.field("Rule", rule.label) }
                text.line()
            }
        }
        return text.text
    }

    /// `ESP[3DES_CBC,HMAC_SHA1_96]` or `AH[HMAC_MD5_96]`.
    static func offer(_ sa: QuickModeAssociation) -> String {
        let parts = [sa.encryption, sa.integrity].filter { !$0.isEmpty }
        return "\(sa.protocolName)[\(parts.joined(separator: ","))]"
    }

    /// The protocol number of a traffic selector such as `198.18.9.2/32[tcp/80]` (0: any).
    static func protocolOf(_ selector: String) -> UInt8 {
        guard let open = selector.firstIndex(of: "["), let close = selector.lastIndex(of: "]") else { return 0 }
        let inner = selector[selector.index(after: open)..<close]
        let name = inner.split(separator: "/").first.map(String.init) ?? ""
        return IPProtocol.parse(name) ?? 0
    }
}
