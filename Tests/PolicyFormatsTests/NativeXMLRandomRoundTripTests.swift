import IPsecTestKit
import PolicyFormats
import PolicyModel
import Testing

/// Random stores, including awkward text, survive write → read unchanged and write deterministically.
@Suite struct NativeXMLRandomRoundTripTests {
    static let pieces = [
        "", " ", "  lead", "trail  ", "a\tb", "line\nbreak", "cr\rlf\r\n", "&", "&amp;", "<tag>", "\"q\"", "'s'",
        "ünï", "日本", "🔐", "]]>", "--", "&#38;", "=", "CN=Root, O=Example",
    ]

    static func text(_ g: inout SplitMix) -> String {
        (0..<Int.random(in: 0...3, using: &g)).map { _ in pieces.randomElement(using: &g)! }.joined()
    }

    static func address(_ g: inout SplitMix) -> FilterAddress {
        let ip = IPv4Address(value: UInt32.random(in: 0...UInt32.max, using: &g))
        switch Int.random(in: 0...5, using: &g) {
        case 0: return .me
        case 1: return .any
        case 2: return .host(ip)
        case 3: return .subnet(ip, mask: .mask(prefixLength: Int.random(in: 0...32, using: &g)))
        case 4: return .dnsName(text(&g), address: ip)
        default: return .server(SpecialServer.allCases.randomElement(using: &g)!)
        }
    }

    static func store(seed: UInt64) -> PolicyStore {
        var g = SplitMix(seed: seed)
        func id() -> IPsecGUID { IPsecGUID.random(using: &g) }
        func when() -> Int64? { Bool.random(using: &g) ? Int64.random(in: .min ... .max, using: &g) : nil }
        let lists = (0..<Int.random(in: 0...4, using: &g)).map { index in
            FilterList(
                id: id(),
                name: "list \(index) " + text(&g),
                description: text(&g),
                whenChanged: when(),
                filters: (0..<Int.random(in: 0...5, using: &g)).map { _ in
                    Filter(
                        id: id(),
                        description: text(&g),
                        mirrored: Bool.random(using: &g),
                        source: address(&g),
                        destination: address(&g),
                        ipProtocol: UInt8.random(in: 0...255, using: &g),
                        sourcePort: UInt16.random(in: 0...UInt16.max, using: &g),
                        destinationPort: UInt16.random(in: 0...UInt16.max, using: &g)
                    )
                }
            )
        }
        let transforms: [Transform] = [
            .ah(.md5), .ah(.sha1), .esp(encryption: .none, integrity: .sha1), .esp(encryption: .des, integrity: nil),
            .esp(encryption: .tripleDES, integrity: .md5),
        ]
        let actions = (0..<Int.random(in: 0...3, using: &g)).map { index in
            FilterAction(
                id: id(),
                name: "action \(index)" + text(&g),
                description: text(&g),
                whenChanged: when(),
                action: FilterActionKind.allCases.randomElement(using: &g)!,
                inboundPassThrough: Bool.random(using: &g),
                allowFallbackToClear: Bool.random(using: &g),
                type: FilterActionType.allCases.randomElement(using: &g)!,
                offers: (0..<Int.random(in: 0...3, using: &g)).map { _ in
                    SecurityOffer(
                        transforms: (0..<Int.random(in: 0...3, using: &g)).map { _ in
                            transforms.randomElement(using: &g)!
                        },
                        lifetimeKilobytes: UInt32.random(in: 0...UInt32.max, using: &g),
                        lifetimeSeconds: UInt32.random(in: 0...UInt32.max, using: &g),
                        perfectForwardSecrecy: Bool.random(using: &g)
                    )
                }
            )
        }
        let policies = (0..<Int.random(in: 0...3, using: &g)).map { index in
            IPsecPolicy(
                id: id(),
                name: Bool.random(using: &g) ? "" : "policy \(index)" + text(&g),
                description: text(&g),
                whenChanged: when(),
                pollingIntervalSeconds: UInt32.random(in: 0...UInt32.max, using: &g),
                mainMode: MainModeSettings(
                    id: id(),
                    name: Bool.random(using: &g) ? nil : text(&g),
                    whenChanged: when(),
                    instanceID: Bool.random(using: &g) ? .zero : id(),
                    masterKeyPFS: Bool.random(using: &g),
                    quickModeLimit: UInt32.random(in: 0...UInt32.max, using: &g),
                    lifetimeSeconds: UInt32.random(in: 0...UInt32.max, using: &g),
                    certificateToAccountMapping: Bool.random(using: &g),
                    omitCertificateRequest: Bool.random(using: &g),
                    securityMethods: (0..<Int.random(in: 0...4, using: &g)).map { _ in
                        MainModeSecurityMethod(
                            encryption: MainModeEncryption.allCases.randomElement(using: &g)!,
                            hash: HashAlgorithm.allCases.randomElement(using: &g)!,
                            group: DiffieHellmanGroup.allCases.randomElement(using: &g)!,
                            quickModeLimit: UInt32.random(in: 0...9, using: &g),
                            lifetimeKilobytes: UInt32.random(in: 0...UInt32.max, using: &g),
                            lifetimeSeconds: UInt32.random(in: 0...UInt32.max, using: &g)
                        )
                    }
                ),
                rules: (0..<Int.random(in: 0...3, using: &g)).map { _ in
                    Rule(
                        id: id(),
                        name: text(&g),
                        description: text(&g),
                        whenChanged: when(),
                        filterListIDs: lists.isEmpty
                            ? []
                            : (0..<Int.random(in: 0...2, using: &g)).map { _ in
                                lists.randomElement(using: &g)!.id
                            },
                        filterActionID: Bool.random(using: &g) ? actions.randomElement(using: &g)?.id : nil,
                        authenticationMethods: (0..<Int.random(in: 0...3, using: &g)).map { _ in
                            switch Int.random(in: 0...2, using: &g) {
                            case 0: .kerberos
                            case 1: .preSharedKey(text(&g))
                            default:
                                .certificate(
                                    CertificateAuthority(
                                        name: text(&g),
                                        certificateToAccountMapping: Bool.random(using: &g),
                                        excludeCAName: Bool.random(using: &g)
                                    )
                                )
                            }
                        },
                        interfaceType: InterfaceType.allCases.randomElement(using: &g)!,
                        interfaceName: text(&g),
                        tunnelEndpoint: Bool.random(using: &g)
                            ? IPv4Address(value: UInt32.random(in: 0...UInt32.max, using: &g)) : nil,
                        tunnelEndpointName: text(&g),
                        isActive: Bool.random(using: &g),
                        isDefaultResponse: Bool.random(using: &g)
                    )
                }
            )
        }
        return PolicyStore(
            policies: policies,
            filterLists: lists,
            filterActions: actions,
            assignedPolicyID: Bool.random(using: &g) ? policies.randomElement(using: &g)?.id : nil
        )
    }

    @Test(arguments: 0..<200)
    func randomStoreRoundTrips(seed: Int) throws {
        let store = Self.store(seed: UInt64(seed))
        let written = NativePolicyXML.write(store)
        let read = try NativePolicyXML.read(written, file: "random-\(seed).xml")
        #expect(read == store)
        #expect(NativePolicyXML.write(read) == written)
    }
}
