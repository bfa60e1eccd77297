public import PolicyModel

/// Generated policy stores for reader benchmarks and scaling tests.
public enum SyntheticStore {
    /// One assigned policy: a rule blocking traffic through one list of `filters` filters, and the
    /// default response rule. The filters vary the way real lists do (hosts and subnets in
    /// 198.18.0.0/15, TCP and UDP ports, a description on every tenth); deterministic.
    public static func blockList(filters: Int) -> PolicyStore {
        let list = FilterList(
            id: guid(1, 0),
            name: "Blocked hosts",
            description: "\(filters) filters",
            filters: (0..<filters).map { n in
                let octet3 = UInt8(n >> 8 & 0xFF)
                let octet4 = UInt8(n & 0xFF)
                return Filter(
                    id: guid(2, n),
                    description: n % 10 == 0 ? "entry \(n)" : "",
                    mirrored: true,
                    source: .me,
                    destination: n % 3 == 0
                        ? .subnet(IPv4Address(198, 19, octet4, 0), mask: IPv4Address(255, 255, 255, 0))
                        : .host(IPv4Address(198, 18, octet3, octet4)),
                    ipProtocol: n % 2 == 0 ? IPProtocol.tcp : IPProtocol.udp,
                    destinationPort: UInt16(1 + n % 65_535)
                )
            }
        )
        let block = FilterAction(id: guid(3, 0), name: "Block", action: .block)
        let response = FilterAction(
            id: guid(3, 1),
            name: "",
            action: .negotiate,
            type: .defaultResponse,
            offers: [SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .sha1)])]
        )
        let policy = IPsecPolicy(
            id: guid(4, 0),
            name: "Block list",
            mainMode: MainModeSettings(id: guid(5, 0)),
            rules: [
                Rule(id: guid(6, 0), name: "Block", filterListIDs: [list.id], filterActionID: block.id),
                Rule(id: guid(6, 1), filterActionID: response.id, isDefaultResponse: true),
            ]
        )
        return PolicyStore(
            policies: [policy],
            filterLists: [list],
            filterActions: [block, response],
            assignedPolicyID: policy.id
        )
    }

    /// The XML benchmark's store: policies of 100 rules each; each rule has its own filter list of
    /// `filters / rules` filters (`me`, hosts, subnets and any; TCP, UDP, ICMP and any; mirrored and
    /// not), with permit, block and negotiate actions. Deterministic.
    public static func rules(_ rules: Int, filters: Int) -> PolicyStore {
        func guid(_ kind: UInt8, _ n: Int) -> IPsecGUID { SyntheticStore.guid(kind, n, prefix: 0x1b) }
        let perList = max(1, filters / max(1, rules))
        let lists = (0..<rules).map { index in
            FilterList(
                id: guid(1, index),
                name: "List \(index)",
                description: "synthetic list \(index)",
                whenChanged: 1_764_417_600,
                filters: (0..<perList).map { slot in
                    let n = index * perList + slot
                    let octet3 = UInt8(n >> 8 & 0xFF)
                    let octet4 = UInt8(n & 0xFF)
                    let source: FilterAddress =
                        switch slot % 4 {
                        case 0: .me
                        case 1: .host(IPv4Address(198, 18, octet3, octet4))
                        case 2: .subnet(IPv4Address(198, 19, octet3, 0), mask: IPv4Address(255, 255, 255, 0))
                        default: .any
                        }
                    return Filter(
                        id: guid(2, n),
                        description: slot == 0 ? "first filter of list \(index)" : "",
                        mirrored: slot % 3 != 0,
                        source: source,
                        destination: slot % 2 == 0 ? .any : .host(IPv4Address(198, 19, octet4, octet3)),
                        ipProtocol: [IPProtocol.tcp, IPProtocol.udp, IPProtocol.icmp, IPProtocol.any][slot % 4],
                        sourcePort: 0,
                        destinationPort: slot % 4 < 2 ? UInt16(1 + n % 65_535) : 0
                    )
                }
            )
        }
        let actions = [
            FilterAction(id: guid(3, 0), name: "Permit", action: .permit),
            FilterAction(id: guid(3, 1), name: "Block", action: .block),
            FilterAction(
                id: guid(3, 2),
                name: "Require Security",
                action: .negotiate,
                inboundPassThrough: true,
                offers: [
                    SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .sha1)], lifetimeSeconds: 3600),
                    SecurityOffer(transforms: [.ah(.sha1), .esp(encryption: .des, integrity: .md5)]),
                ]
            ),
        ]
        let policyCount = max(1, rules / 100)
        let policies = (0..<policyCount).map { p in
            IPsecPolicy(
                id: guid(4, p),
                name: "Policy \(p)",
                description: "synthetic policy \(p)",
                mainMode: MainModeSettings(id: guid(5, p)),
                rules: (0..<(rules / policyCount)).map { r in
                    let index = p * (rules / policyCount) + r
                    return Rule(
                        id: guid(6, index),
                        name: "Rule \(index)",
                        filterListIDs: [guid(1, index)],
                        filterActionID: guid(3, index % 3),
                        authenticationMethods: index % 2 == 0
                            ? [.kerberos] : [.preSharedKey("key \(index)"), .kerberos]
                    )
                }
            )
        }
        return PolicyStore(policies: policies, filterLists: lists, filterActions: actions, assignedPolicyID: guid(4, 0))
    }

    /// A version-4 GUID made of `prefix`, `kind` and `n`: deterministic ids for generated stores.
    public static func guid(_ kind: UInt8, _ n: Int, prefix: UInt8 = 0x2c) -> IPsecGUID {
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes[0] = prefix
        bytes[1] = kind
        bytes[6] = 0x40
        bytes[8] = 0x80
        var value = UInt64(n)
        for index in stride(from: 15, through: 10, by: -1) {
            bytes[index] = UInt8(value & 0xFF)
            value >>= 8
        }
        return IPsecGUID(bytes: bytes)!
    }
}
