import PolicyModel

/// The three Windows example policies (windows-ipsec.md §7) built in code, and a store that uses every
/// field the Windows formats can carry. Tests convert them through the Windows formats and back.
enum ExamplePolicies {
    static func guid(_ text: String) -> IPsecGUID { IPsecGUID(text)! }

    static let allIP = FilterList(
        id: guid("{7238523a-70fa-11d1-864c-14a300000000}"),
        name: "All IP Traffic",
        description:
            "Matches all IP packets from this computer to any other computer, except broadcast, multicast, Kerberos, RSVP and ISAKMP (IKE).",
        whenChanged: 1_100_000_000,
        filters: [
            Filter(id: guid("{7238523b-70fa-11d1-864c-14a300000000}"), mirrored: true, source: .me, destination: .any)
        ]
    )
    static let allICMP = FilterList(
        id: guid("{72385235-70fa-11d1-864c-14a300000000}"),
        name: "All ICMP Traffic",
        description: "Matches all ICMP packets between this computer and any other computer.",
        whenChanged: 1_100_000_000,
        filters: [
            Filter(
                id: guid("{72385236-70fa-11d1-864c-14a300000001}"),
                description: "ICMP",
                source: .me,
                destination: .any,
                ipProtocol: IPProtocol.icmp
            )
        ]
    )

    static let quickModeDefaults: [SecurityOffer] = [
        SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .sha1)]),
        SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .md5)]),
        SecurityOffer(transforms: [.esp(encryption: .des, integrity: .sha1)]),
        SecurityOffer(transforms: [.esp(encryption: .des, integrity: .md5)]),
        SecurityOffer(transforms: [.ah(.sha1)]),
        SecurityOffer(transforms: [.ah(.md5)]),
    ]

    static let permit = FilterAction(
        id: guid("{7238523b-70fa-11d1-864c-14a300000000}"),
        name: "Permit",
        description: "Permit unsecured IP packets to pass through.",
        action: .permit
    )
    static let requestSecurity = FilterAction(
        id: guid("{7238523f-70fa-11d1-864c-14a300000000}"),
        name: "Request Security (Optional)",
        description: "Accepts unsecured communication, but requests clients to establish trust and security methods.",
        action: .negotiate,
        inboundPassThrough: true,
        allowFallbackToClear: true,
        offers: quickModeDefaults
    )
    static let requireSecurity = FilterAction(
        id: guid("{72385233-70fa-11d1-864c-14a300000000}"),
        name: "Require Security",
        description:
            "Accepts unsecured communication, but always requires clients to establish trust and security methods.",
        action: .negotiate,
        inboundPassThrough: true,
        offers: Array(quickModeDefaults.prefix(4))
    )

    static func defaultResponseAction(_ id: String) -> FilterAction {
        FilterAction(
            id: guid(id),
            name: "{8A171DD3-77E3-11D1-8659-A04F00000000}",
            action: .negotiate,
            type: .defaultResponse,
            offers: quickModeDefaults
        )
    }

    static let clientDefaultAction = defaultResponseAction("{59319c01-5ee3-11d2-ace8-0060b0ecca17}")
    static let serverDefaultAction = defaultResponseAction("{59319bdf-5ee3-11d2-ace8-0060b0ecca17}")
    static let secureDefaultAction = defaultResponseAction("{59319bf0-5ee3-11d2-ace8-0060b0ecca17}")

    static func defaultResponseRule(_ id: String, action: FilterAction) -> Rule {
        Rule(id: guid(id), filterActionID: action.id, isActive: true, isDefaultResponse: true)
    }

    static func mainMode(_ id: String) -> MainModeSettings {
        MainModeSettings(id: guid(id), instanceID: guid(id), lifetimeSeconds: 0)
    }

    static let client = IPsecPolicy(
        id: guid("{72385236-70fa-11d1-864c-14a300000000}"),
        name: "Client (Respond Only)",
        description:
            "Communicate normally (unsecured). Use the default response rule to negotiate with servers that request security.",
        whenChanged: 1_100_000_000,
        mainMode: mainMode("{72385237-70fa-11d1-864c-14a300000000}"),
        rules: [defaultResponseRule("{59319c04-5ee3-11d2-ace8-0060b0ecca17}", action: clientDefaultAction)]
    )
    static let server = IPsecPolicy(
        id: guid("{72385230-70fa-11d1-864c-14a300000000}"),
        name: "Server (Request Security)",
        description:
            "For all IP traffic, always request security using Kerberos trust. Allow unsecured communication with clients that do not respond to request.",
        mainMode: mainMode("{72385231-70fa-11d1-864c-14a300000000}"),
        rules: [
            Rule(
                id: guid("{72385232-70fa-11d1-864c-14a300000000}"),
                filterListIDs: [allIP.id],
                filterActionID: requestSecurity.id
            ),
            Rule(
                id: guid("{59319be2-5ee3-11d2-ace8-0060b0ecca17}"),
                filterListIDs: [allICMP.id],
                filterActionID: permit.id
            ),
            defaultResponseRule("{594272e2-071d-11d3-ad22-0060b0ecca17}", action: serverDefaultAction),
        ]
    )
    static let secureServer = IPsecPolicy(
        id: guid("{7238523c-70fa-11d1-864c-14a300000000}"),
        name: "Secure Server (Require Security)",
        description:
            "For all IP traffic, always require security using Kerberos trust. Do NOT allow unsecured communication with untrusted clients.",
        mainMode: mainMode("{7238523d-70fa-11d1-864c-14a300000000}"),
        rules: [
            Rule(
                id: guid("{7238523e-70fa-11d1-864c-14a300000000}"),
                filterListIDs: [allIP.id],
                filterActionID: requireSecurity.id
            ),
            Rule(
                id: guid("{59319bf3-5ee3-11d2-ace8-0060b0ecca17}"),
                filterListIDs: [allICMP.id],
                filterActionID: permit.id
            ),
            defaultResponseRule("{594272fd-071d-11d3-ad22-0060b0ecca17}", action: secureDefaultAction),
        ]
    )

    /// The three example policies in one store, none assigned (as Windows installs them).
    static let windowsExamples = PolicyStore(
        policies: [client, server, secureServer],
        filterLists: [allICMP, allIP],
        filterActions: [
            permit, requestSecurity, requireSecurity, clientDefaultAction, serverDefaultAction, secureDefaultAction,
        ]
    )

    /// A store that uses every field of every object the Windows formats carry.
    static let everything: PolicyStore = {
        let list = FilterList(
            id: guid("{11111111-2222-3333-4444-555555555555}"),
            name: "Ünïcode & <odd> \"names\"",
            description: "line one\nline two",
            whenChanged: 1_234_567_890,
            filters: [
                Filter(
                    id: guid("{a0000000-0000-0000-0000-000000000001}"),
                    description: "host to subnet, TCP 3389",
                    mirrored: false,
                    source: .host(IPv4Address(198, 18, 0, 1)),
                    destination: .subnet(IPv4Address(198, 19, 0, 0), mask: IPv4Address(255, 255, 0, 0)),
                    ipProtocol: IPProtocol.tcp,
                    sourcePort: 0,
                    destinationPort: 3389
                ),
                Filter(
                    id: guid("{a0000000-0000-0000-0000-000000000002}"),
                    source: .dnsName("gw.example.com", address: IPv4Address(198, 18, 0, 9)),
                    destination: .server(.dns),
                    ipProtocol: IPProtocol.udp,
                    sourcePort: 53,
                    destinationPort: 53
                ),
                Filter(
                    id: guid("{a0000000-0000-0000-0000-000000000003}"),
                    source: .server(.gateway),
                    destination: .me,
                    ipProtocol: 47
                ),
            ]
        )
        let action = FilterAction(
            id: guid("{b0000000-0000-0000-0000-000000000001}"),
            name: "PFS with AH+ESP",
            description: "bundles",
            whenChanged: 1_000_000_000,
            action: .negotiate,
            allowFallbackToClear: true,
            offers: [
                SecurityOffer(
                    transforms: [.ah(.sha1), .esp(encryption: .tripleDES, integrity: nil)],
                    lifetimeKilobytes: 100_000,
                    lifetimeSeconds: 3_600,
                    perfectForwardSecrecy: true
                ),
                SecurityOffer(transforms: [.esp(encryption: .none, integrity: .md5)]),
            ]
        )
        let block = FilterAction(id: guid("{b0000000-0000-0000-0000-000000000002}"), name: "Block", action: .block)
        let policy = IPsecPolicy(
            id: guid("{c0000000-0000-0000-0000-000000000001}"),
            name: "Everything",
            description: "all fields",
            whenChanged: 1_700_000_000,
            pollingIntervalSeconds: 600,
            mainMode: MainModeSettings(
                id: guid("{d0000000-0000-0000-0000-000000000001}"),
                name: "MM",
                whenChanged: 1_700_000_001,
                instanceID: guid("{d0000000-0000-0000-0000-0000000000ff}"),
                masterKeyPFS: true,
                quickModeLimit: 5,
                lifetimeSeconds: 7_200,
                certificateToAccountMapping: true,
                omitCertificateRequest: true,
                securityMethods: [
                    MainModeSecurityMethod(encryption: .tripleDES, hash: .sha1, group: .group2048, quickModeLimit: 1),
                    MainModeSecurityMethod(
                        encryption: .des,
                        hash: .md5,
                        group: .group1,
                        lifetimeKilobytes: 10,
                        lifetimeSeconds: 300
                    ),
                ]
            ),
            rules: [
                Rule(
                    id: guid("{e0000000-0000-0000-0000-000000000001}"),
                    name: "tunnel rule",
                    description: "to the gateway",
                    whenChanged: 1_700_000_002,
                    filterListIDs: [list.id],
                    filterActionID: action.id,
                    authenticationMethods: [
                        .certificate(
                            CertificateAuthority(
                                name: "CN=Example Root CA, O=Example",
                                certificateToAccountMapping: true,
                                excludeCAName: true
                            )
                        ),
                        .preSharedKey("s3cret ключ"),
                        .kerberos,
                    ],
                    interfaceType: .lan,
                    tunnelEndpoint: IPv4Address(198, 18, 255, 254),
                    tunnelEndpointName: "gw.example.com",
                    isActive: false
                ),
                Rule(
                    id: guid("{e0000000-0000-0000-0000-000000000002}"),
                    name: "block dial-up",
                    filterListIDs: [list.id, ExamplePolicies.allIP.id],
                    filterActionID: block.id,
                    interfaceType: .dialUp
                ),
            ]
        )
        return PolicyStore(
            policies: [policy, client],
            filterLists: [list, allIP],
            filterActions: [action, block, clientDefaultAction],
            assignedPolicyID: policy.id
        )
    }()
}
