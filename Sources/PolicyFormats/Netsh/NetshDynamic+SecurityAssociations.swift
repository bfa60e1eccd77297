public import Keying
import PolicyModel

/// A `netsh ipsec dynamic` backend that can list the live security associations (the running
/// service with IKE keying). Backends without it answer `show mmsas|qmsas` with an explanation.
public protocol NetshSecurityAssociationSource: AnyObject {
    /// The live main-mode and quick-mode SAs and the soft associations.
    func securityAssociations() throws(NetshError) -> KeyingAssociations
}

extension NetshDynamicSession {
    /// `show mmsas` and `show qmsas`, in the layout of Windows Server 2003, filtered by `srcaddr`,
    /// `dstaddr` (either end matches) and, for quick modes, `protocol`.
    func showSecurityAssociations(quickMode: Bool, _ arguments: NetshArguments) throws(NetshError) -> String {
        guard let source = backend as? any NetshSecurityAssociationSource else {
            return "No security associations: this backend does not negotiate IKE.\n"
        }
        let associations = try source.securityAssociations()
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
