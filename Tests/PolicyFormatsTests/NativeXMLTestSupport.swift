import Foundation
import PolicyFormats
import PolicyModel

/// Shared fixtures for the native XML tests.
enum NativeXMLFixtures {
    /// The package root, found from this file's path.
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func bytes(_ relativePath: String) throws -> [UInt8] {
        Array(try Data(contentsOf: packageRoot.appendingPathComponent(relativePath)))
    }

    static func guid(_ n: Int) -> IPsecGUID {
        let hex = String(n, radix: 16)
        return IPsecGUID("{00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex + "}")!
    }

    /// A store in which every field of every model type differs from its default.
    static let everyField: PolicyStore = {
        let allFilters = FilterList(
            id: guid(1),
            name: "Every kind of address",
            description: "Line one\nline two\twith a tab & <markup> \"quoted\" — ünïcode",
            whenChanged: 1_732_881_600,
            filters: [
                Filter(id: guid(2), description: "me to any", mirrored: true, source: .me, destination: .any),
                Filter(
                    id: guid(3),
                    mirrored: false,
                    source: .host(IPv4Address(198, 18, 0, 1)),
                    destination: .subnet(IPv4Address(198, 19, 0, 0), mask: IPv4Address(255, 255, 0, 0)),
                    ipProtocol: IPProtocol.tcp,
                    sourcePort: 1024,
                    destinationPort: 23
                ),
                Filter(
                    id: guid(4),
                    source: .dnsName("server.example.test", address: IPv4Address(198, 18, 5, 5)),
                    destination: .server(.dns),
                    ipProtocol: IPProtocol.udp,
                    destinationPort: 53
                ),
                Filter(id: guid(5), source: .server(.wins), destination: .server(.dhcp), ipProtocol: 99),
                Filter(id: guid(6), source: .server(.gateway), destination: .me, ipProtocol: IPProtocol.icmp),
                Filter(
                    id: guid(7),
                    source: .subnet(IPv4Address(198, 18, 0, 0), mask: IPv4Address(255, 0, 255, 0)),
                    destination: .any,
                    ipProtocol: IPProtocol.raw
                ),
            ]
        )
        let emptyList = FilterList(id: guid(8), name: "")
        let negotiate = FilterAction(
            id: guid(10),
            name: "Negotiate",
            description: "all transforms",
            whenChanged: -62_135_596_800,
            action: .negotiate,
            inboundPassThrough: true,
            allowFallbackToClear: true,
            type: .standard,
            offers: [
                SecurityOffer(
                    transforms: [.ah(.sha1), .esp(encryption: .tripleDES, integrity: .md5)],
                    lifetimeKilobytes: 100_000,
                    lifetimeSeconds: 3600,
                    perfectForwardSecrecy: true
                ),
                SecurityOffer(transforms: [.esp(encryption: .none, integrity: .sha1), .ah(.md5)]),
                SecurityOffer(transforms: [.esp(encryption: .des, integrity: nil)]),
                SecurityOffer(transforms: []),
            ]
        )
        let block = FilterAction(id: guid(11), name: "Block", whenChanged: 253_402_300_800, action: .block)
        let response = FilterAction(
            id: guid(12),
            name: "",
            action: .negotiate,
            type: .defaultResponse,
            offers: [SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .sha1)])]
        )
        let policy = IPsecPolicy(
            id: guid(20),
            name: "Everything",
            description: "A policy using every field",
            whenChanged: 0,
            pollingIntervalSeconds: 0,
            mainMode: MainModeSettings(
                id: guid(21),
                name: "",
                whenChanged: 86_399,
                instanceID: guid(22),
                masterKeyPFS: true,
                quickModeLimit: 7,
                lifetimeSeconds: 0,
                certificateToAccountMapping: true,
                omitCertificateRequest: true,
                securityMethods: [
                    MainModeSecurityMethod(encryption: .des, hash: .md5, group: .group1),
                    MainModeSecurityMethod(
                        encryption: .tripleDES,
                        hash: .sha1,
                        group: .group2048,
                        quickModeLimit: 3,
                        lifetimeKilobytes: 5,
                        lifetimeSeconds: 4_294_967_295
                    ),
                ]
            ),
            rules: [
                Rule(
                    id: guid(23),
                    name: "Tunnel rule",
                    description: "tunnel",
                    whenChanged: 1,
                    filterListIDs: [guid(1), guid(8), guid(1)],
                    filterActionID: guid(10),
                    authenticationMethods: [
                        .preSharedKey("s3cret & \"key\""),
                        .certificate(CertificateAuthority(name: "CN=Example Root CA, O=Example")),
                        .certificate(
                            CertificateAuthority(
                                name: "CN=Other",
                                certificateToAccountMapping: true,
                                excludeCAName: true
                            )
                        ),
                        .kerberos,
                    ],
                    interfaceType: .lan,
                    interfaceName: "eth0",
                    tunnelEndpoint: IPv4Address(198, 18, 255, 254),
                    tunnelEndpointName: "gw.example.test",
                    isActive: false
                ),
                Rule(id: guid(24), filterListIDs: [guid(1)], filterActionID: guid(11), interfaceType: .dialUp),
                Rule(id: guid(25), authenticationMethods: []),
                Rule(id: guid(26), filterActionID: guid(12), isDefaultResponse: true),
            ]
        )
        let bare = IPsecPolicy(id: guid(30), name: "", mainMode: MainModeSettings(id: guid(31), securityMethods: []))
        return PolicyStore(
            policies: [policy, bare],
            filterLists: [allFilters, emptyList],
            filterActions: [negotiate, block, response],
            assignedPolicyID: guid(20)
        )
    }()
}

extension [UInt8] {
    var text: String { String(decoding: self, as: UTF8.self) }
}
