import PolicyFormats
import PolicyModel

/// The three Windows example policies (windows-ipsec.md §7) and a store built in code that uses every
/// field the Windows formats can carry. Tests convert them through the Windows formats and back.
enum ExamplePolicies {
    static func guid(_ text: String) -> IPsecGUID { IPsecGUID(text)! }

    /// Windows' three example policies, none assigned (as Windows installs them): `policies-xml/`'s
    /// files, which are Windows' own data (SambaProvisionTests).
    static let windowsExamples: PolicyStore = {
        var store = PolicyStore()
        for name in ["client-respond-only.xml", "server-request-security.xml", "secure-server-require-security.xml"] {
            do {
                store.merge(try NativePolicyXML.read(NativeXMLFixtures.bytes("policies-xml/" + name), file: name))
            } catch {
                fatalError("policies-xml/\(name) does not read: \(error)")
            }
        }
        return store
    }()

    static var allIP: FilterList { windowsExamples.filterLists.first { $0.name == "All IP Traffic" }! }
    static var client: IPsecPolicy { windowsExamples.policies.first { $0.name == "Client (Respond Only)" }! }
    static var clientDefaultAction: FilterAction { windowsExamples.filterAction(id: client.rules[0].filterActionID!)! }

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
