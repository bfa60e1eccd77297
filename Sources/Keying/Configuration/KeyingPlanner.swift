public import DecisionCore
public import PolicyModel

/// The host facts the mapping needs: this computer's addresses (`me`) and its special servers.
public struct KeyingHost: Hashable, Sendable {
    public var addresses: [IPv4Address]
    public var servers: [SpecialServer: [IPv4Address]]

    public init(addresses: [IPv4Address] = [], servers: [SpecialServer: [IPv4Address]] = [:]) {
        self.addresses = addresses
        self.servers = servers
    }
}

/// Turns the effective policy into the IKE configuration charon needs (docs/keying.md, "What maps
/// to what"). Pure: the same policy, host, credentials and datapath always give the same
/// configuration, with the same names, so that a change of one rule changes only that rule's
/// connections.
public enum KeyingPlanner {
    /// Prefix of every connection and secret ipsecsvc loads: the rest of charon's configuration is
    /// never touched.
    public static let prefix = "ipsecsvc-"
    /// Windows' session key lifetime when an offer stores 0 (the console's default: 100,000 KB or
    /// 3,600 seconds, whichever comes first).
    public static let defaultQuickModeSeconds: UInt32 = 3600
    public static let defaultQuickModeKilobytes: UInt32 = 100_000

    public static func plan(
        _ policy: EffectivePolicy,
        host: KeyingHost,
        credentials: Credentials = .none,
        datapath: KeyingDatapath
    ) -> IKEConfiguration {
        var builder = Builder(host: host, credentials: credentials, datapath: datapath)
        for (index, filter) in policy.filters.enumerated() {
            builder.add(filter, index: index)
        }
        for response in policy.defaultResponses {
            builder.addDefaultResponse(response)
        }
        return builder.finish()
    }

    /// `template` (a range rule's connection) narrowed to one peer: its own name, the peer as the
    /// only remote address and identity, remote selectors narrowed to the peer's /32, and the
    /// pre-shared key re-owned by the peer. Returned with the secrets it needs.
    public static func specialize(
        _ template: IKEConnection,
        to peer: IPv4Address,
        secrets: [String: IKESecret]
    ) -> (connection: IKEConnection, secrets: [IKESecret]) {
        var connection = template
        connection.name = template.name + "@" + peer.description
        // The pre-shared key's remote identity follows the peer (``ConnectionDefinition``).
        connection.peer = .host(peer)
        connection.children = template.children.map { child in
            var narrowed = child
            narrowed.remote = child.remote.narrowed(to: peer)
            return narrowed
        }
        // ipsecsvc initiates it for the packet that asked: no trap.
        connection.startsNegotiations = false
        var needed: [IKESecret] = []
        connection.secrets = template.secrets.map { id in
            guard let secret = secrets[id] else { return id }
            guard case .sharedKey = secret.kind else {
                needed.append(secret)
                return id
            }
            let owned = IKESecret(
                id: id + "@" + peer.description,
                kind: .sharedKey(owners: [peer.description]),
                data: secret.data
            )
            needed.append(owned)
            return owned.id
        }
        return (connection, needed)
    }

    /// A short stable hash (FNV-1a, 48 bits) for names.
    static func shortHash(_ text: String) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01B3
        }
        let value = String(hash & 0xFFFF_FFFF_FFFF, radix: 16)
        return String(repeating: "0", count: 12 - value.count) + value
    }

    /// The rule a filter belongs to.
    static func rule(_ provenance: Provenance) -> RuleReference {
        let identity = [
            provenance.kind.rawValue, provenance.source, provenance.policyID?.braced ?? provenance.policyName,
            provenance.ruleID?.braced ?? provenance.ruleName,
        ].joined(separator: "|")
        return RuleReference(
            key: shortHash(identity),
            source: provenance.source,
            policyName: provenance.policyName,
            ruleName: provenance.ruleName.isEmpty ? "(unnamed rule)" : provenance.ruleName
        )
    }
}

extension KeyingHost {
    /// The host as the driver's compiler sees it (`me` and the special servers).
    public init(_ host: HostInfo) {
        self.init(
            addresses: host.addresses,
            servers: [
                .dns: host.dnsServers, .wins: host.winsServers, .dhcp: host.dhcpServers, .gateway: host.defaultGateways,
            ]
        )
    }
}
