import Keying
import PolicyModel
import Testing

/// Policies for the mapping tests: this computer is 198.18.9.1, the peer 198.18.9.2.
enum PlannerFixture {
    static let me = IPv4Address("198.18.9.1")!
    static let peer = IPv4Address("198.18.9.2")!
    static let host = KeyingHost(addresses: [me], servers: [.dns: [IPv4Address("198.18.9.53")!]])

    static func guid(_ n: Int) -> IPsecGUID {
        let hex = String(n, radix: 16)
        return IPsecGUID("{00000000-0000-4000-8000-\(String(repeating: "0", count: 12 - hex.count) + hex)}")!
    }

    static func action(
        offers: [SecurityOffer] = [SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .sha1)])],
        soft: Bool = false,
        inpass: Bool = false,
        kind: FilterActionKind = .negotiate
    ) -> FilterAction {
        FilterAction(
            id: guid(0xA0),
            name: "Require Security",
            action: kind,
            inboundPassThrough: inpass,
            allowFallbackToClear: soft,
            offers: kind == .negotiate ? offers : []
        )
    }

    static func filter(
        _ source: FilterAddress = .me,
        _ destination: FilterAddress = .host(peer),
        action: FilterAction = action(),
        auth: [AuthenticationMethod] = [.preSharedKey("secret")],
        mainMode: MainModeSettings = MainModeSettings(id: guid(0xB0)),
        proto: UInt8 = 0,
        sport: UInt16 = 0,
        dport: UInt16 = 0,
        tunnel: IPv4Address? = nil,
        rule: Int = 1
    ) -> EffectiveFilter {
        EffectiveFilter(
            filter: Filter(
                id: guid(rule * 16),
                source: source,
                destination: destination,
                ipProtocol: proto,
                sourcePort: sport,
                destinationPort: dport
            ),
            inboundAction: action,
            tunnelEndpoint: tunnel,
            provenance: Provenance(
                kind: .local,
                source: "local",
                policyName: "Test",
                policyID: guid(0xC0),
                ruleName: "rule \(rule)",
                ruleID: guid(0xD00 + rule)
            ),
            negotiation: NegotiationSettings(authenticationMethods: auth, mainMode: mainMode)
        )
    }

    static func plan(
        _ filters: [EffectiveFilter],
        datapath: KeyingDatapath = .kernel,
        credentials: Credentials = .none
    ) -> IKEConfiguration {
        KeyingPlanner.plan(
            EffectivePolicy(generation: 1, filters: filters),
            host: host,
            credentials: credentials,
            datapath: datapath
        )
    }

    /// The one connection of a single-filter plan, and its one child.
    static func only(_ configuration: IKEConfiguration) throws -> (IKEConnection, ViciMessage) {
        try #require(configuration.connections.count == 1, "\(configuration.connections.keys)")
        let connection = configuration.connections.values.first!
        let child = try #require(connection.definition.section("children")?.sections.first?.message)
        return (connection, child)
    }
}

@Suite struct KeyingPlannerTests {
    typealias F = PlannerFixture

    static let mainModeMethods: [MainModeSecurityMethod] = MainModeEncryption.allCases.flatMap { encryption in
        HashAlgorithm.allCases.flatMap { hash in
            DiffieHellmanGroup.allCases.map { MainModeSecurityMethod(encryption: encryption, hash: hash, group: $0) }
        }
    }

    @Test(arguments: mainModeMethods)
    func everyMainModeMethodMapsToAnIKEv1Proposal(method: MainModeSecurityMethod) throws {
        let (connection, _) = try F.only(
            F.plan([F.filter(mainMode: MainModeSettings(id: F.guid(1), securityMethods: [method]))])
        )
        let encryption = method.encryption == .des ? "des" : "3des"
        let hash = method.hash == .md5 ? "md5" : "sha1"
        let group = ["1": "modp768", "2": "modp1024", "2048": "modp2048"][method.group.rawValue]!
        #expect(connection.definition.strings("proposals") == ["\(encryption)-\(hash)-\(group)"])
        #expect(connection.definition.string("version") == "1")
        #expect(connection.definition.string("aggressive") == "no")
    }

    @Test func mainModeOffersKeepTheirOrderWithoutRepeats() throws {
        var methods = MainModeSecurityMethod.windowsDefaults
        methods.append(methods[0])
        let (connection, _) = try F.only(
            F.plan([F.filter(mainMode: MainModeSettings(id: F.guid(1), securityMethods: methods))])
        )
        #expect(
            connection.definition.strings("proposals")
                == ["3des-sha1-modp1024", "3des-md5-modp1024", "des-sha1-modp768", "des-md5-modp768"]
        )
    }

    @Test(arguments: [(0, "28800"), (3600, "3600")] as [(UInt32, String)])
    func mainModeLifetimeIsTheReauthenticationInterval(seconds: UInt32, expected: String) throws {
        let (connection, _) = try F.only(
            F.plan([F.filter(mainMode: MainModeSettings(id: F.guid(1), lifetimeSeconds: seconds))])
        )
        #expect(connection.definition.string("reauth_time") == expected)
        #expect(connection.definition.string("rekey_time") == "0")
        #expect(connection.definition.string("dpd_delay") == "0")
    }

    @Test(arguments: [(false, 0, 0), (false, 5, 5), (true, 0, 1), (true, 5, 1)] as [(Bool, UInt32, UInt32)])
    func quickModeLimitAndMasterKeyPFS(pfs: Bool, limit: UInt32, expected: UInt32) throws {
        let (connection, _) = try F.only(
            F.plan([F.filter(mainMode: MainModeSettings(id: F.guid(1), masterKeyPFS: pfs, quickModeLimit: limit))])
        )
        #expect(connection.quickModeLimit == expected)
    }

    static let espTransforms: [(ESPEncryption, HashAlgorithm?)] = ESPEncryption.allCases.flatMap { encryption in
        ([nil] + HashAlgorithm.allCases.map { Optional($0) }).compactMap { integrity in
            encryption == .none && integrity == nil ? nil : (encryption, integrity)
        }
    }

    @Test func everyESPMethodWithAndWithoutPFSOnTheKernelDatapath() throws {
        for (encryption, integrity) in Self.espTransforms {
            for pfs in [false, true] {
                let offer = SecurityOffer(
                    transforms: [.esp(encryption: encryption, integrity: integrity)],
                    perfectForwardSecrecy: pfs
                )
                let (_, child) = try F.only(F.plan([F.filter(action: F.action(offers: [offer]))]))
                var expected = ["None": "null", "DES": "des", "3DES": "3des"][encryption.rawValue]!
                if let integrity { expected += integrity == .md5 ? "-md5" : "-sha1" }
                if pfs { expected += "-modp1024" }
                #expect(child.strings("esp_proposals") == [expected], "\(encryption) \(String(describing: integrity))")
                #expect(child.string("ah_proposals") == nil)
            }
        }
    }

    @Test(arguments: HashAlgorithm.allCases)
    func ahMethodsOnTheKernelDatapath(hash: HashAlgorithm) throws {
        for pfs in [false, true] {
            let offer = SecurityOffer(transforms: [.ah(hash)], perfectForwardSecrecy: pfs)
            let (_, child) = try F.only(F.plan([F.filter(action: F.action(offers: [offer]))]))
            #expect(child.strings("ah_proposals") == [(hash == .md5 ? "md5" : "sha1") + (pfs ? "-modp1024" : "")])
            #expect(child.strings("esp_proposals") == nil)
        }
    }

    @Test func pfsUsesTheMainModeGroup() throws {
        let mainMode = MainModeSettings(
            id: F.guid(1),
            securityMethods: [.init(encryption: .tripleDES, hash: .sha1, group: .group2048)]
        )
        let offer = SecurityOffer(
            transforms: [.esp(encryption: .tripleDES, integrity: .sha1)],
            perfectForwardSecrecy: true
        )
        let (_, child) = try F.only(F.plan([F.filter(action: F.action(offers: [offer]), mainMode: mainMode)]))
        #expect(child.strings("esp_proposals") == ["3des-sha1-modp2048"])
    }

    @Test func libipsecLeavesOutAHAndNullEncryption() throws {
        let offers = [
            SecurityOffer(transforms: [.ah(.sha1)]),
            SecurityOffer(transforms: [.esp(encryption: .none, integrity: .sha1)]),
            SecurityOffer(transforms: [.esp(encryption: .des, integrity: .md5)]),
        ]
        let configuration = F.plan([F.filter(action: F.action(offers: offers))], datapath: .libipsec)
        let (_, child) = try F.only(configuration)
        #expect(child.strings("esp_proposals") == ["des-md5"])
        #expect(child.string("ah_proposals") == nil)
        #expect(configuration.notes.count == 2)
        // Only AH: nothing left to negotiate.
        let ahOnly = F.plan([F.filter(action: F.action(offers: [offers[0]]))], datapath: .libipsec)
        #expect(ahOnly.connections.isEmpty)
        #expect(ahOnly.unnegotiable[0]?.reason.contains("libipsec") == true)
    }

    @Test func bundlesAreLeftOutWithANote() throws {
        let offers = [
            SecurityOffer(transforms: [.ah(.sha1), .esp(encryption: .tripleDES, integrity: nil)]),
            SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .sha1)]),
        ]
        let configuration = F.plan([F.filter(action: F.action(offers: offers))])
        let (_, child) = try F.only(configuration)
        #expect(child.strings("esp_proposals") == ["3des-sha1"])
        #expect(configuration.notes.contains { $0.contains("AH+ESP") })
    }

    @Test func windowsDefaultOffersInOrder() throws {
        let offers: [SecurityOffer] = [
            .init(transforms: [.esp(encryption: .tripleDES, integrity: .sha1)]),
            .init(transforms: [.esp(encryption: .tripleDES, integrity: .md5)]),
            .init(transforms: [.esp(encryption: .des, integrity: .sha1)]),
            .init(transforms: [.esp(encryption: .des, integrity: .md5)]),
        ]
        let (_, child) = try F.only(F.plan([F.filter(action: F.action(offers: offers))]))
        #expect(child.strings("esp_proposals") == ["3des-sha1", "3des-md5", "des-sha1", "des-md5"])
    }

    @Test(
        arguments: [
            (0, 0, "3600", "3240", "102400000", "92160000"), (900, 50_000, "900", "810", "51200000", "46080000"),
        ] as [(UInt32, UInt32, String, String, String, String)]
    )
    func quickModeLifetimes(
        seconds: UInt32,
        kilobytes: UInt32,
        life: String,
        rekey: String,
        lifeBytes: String,
        rekeyBytes: String
    ) throws {
        let offer = SecurityOffer(
            transforms: [.esp(encryption: .tripleDES, integrity: .sha1)],
            lifetimeKilobytes: kilobytes,
            lifetimeSeconds: seconds
        )
        let (_, child) = try F.only(F.plan([F.filter(action: F.action(offers: [offer]))]))
        #expect(child.string("life_time") == life)
        #expect(child.string("rekey_time") == rekey)
        #expect(child.string("life_bytes") == lifeBytes)
        #expect(child.string("rekey_bytes") == rekeyBytes)
    }

    @Test func presharedKeyHostRuleOnTheKernelDatapath() throws {
        let configuration = F.plan([F.filter()])
        let (connection, child) = try F.only(configuration)
        #expect(connection.name.hasPrefix("ipsecsvc-"))
        #expect(connection.name.hasSuffix("-198.18.9.2"))
        #expect(connection.peer == .host(F.peer))
        #expect(connection.definition.strings("remote_addrs") == ["198.18.9.2"])
        #expect(connection.definition.section("local-1") == ["auth": "psk"])
        #expect(connection.definition.section("remote-1") == ["auth": "psk", "id": "198.18.9.2"])
        #expect(child.string("mode") == "transport")
        #expect(child.strings("local_ts") == ["dynamic"])
        #expect(child.strings("remote_ts") == ["198.18.9.2/32"])
        #expect(child.string("start_action") == "trap")
        let secret = try #require(configuration.secrets[connection.secrets[0]])
        #expect(secret.kind == .sharedKey(owners: ["198.18.9.2"]))
        #expect(secret.data == Array("secret".utf8))
        #expect(secret.loadMessage.strings("owners") == ["198.18.9.2"])
        let target = try #require(configuration.targets[0])
        #expect(target.connections == [F.peer: connection.name])
        #expect(target.trapped)
    }

    @Test func theSameRuleOnTheLibipsecDatapathIsATunnelBetweenTheTwoHosts() throws {
        let configuration = F.plan([F.filter()], datapath: .libipsec)
        let (_, child) = try F.only(configuration)
        #expect(child.string("mode") == "tunnel")
        #expect(child.strings("local_ts") == ["dynamic"])
        #expect(child.strings("remote_ts") == ["198.18.9.2/32"])
        // kernel-libipsec 5.9.8 sends no acquire: ipsecsvc starts it.
        #expect(child.string("start_action") == "none")
        #expect(configuration.targets[0]?.trapped == false)
    }

    @Test(arguments: [(true, false), (false, true)])
    func softAndInboundPassThroughRulesAreNotTrapped(soft: Bool, inpass: Bool) throws {
        let configuration = F.plan([F.filter(action: F.action(soft: soft, inpass: inpass))])
        let (_, child) = try F.only(configuration)
        #expect(child.string("start_action") == "none")
        let target = try #require(configuration.targets[0])
        #expect(target.soft == soft)
        #expect(target.inboundPassThrough == inpass)
        #expect(!target.trapped)
    }

    @Test func protocolAndPortsGoToTheRightSide() throws {
        // Outbound to a web server: local any port, remote port 80.
        let (_, out) = try F.only(F.plan([F.filter(.me, .host(F.peer), proto: 6, dport: 80)]))
        #expect(out.strings("local_ts") == ["dynamic[tcp]"])
        #expect(out.strings("remote_ts") == ["198.18.9.2/32[tcp/80]"])
        // The filter written the other way round (peer → me:25, UDP).
        let (_, back) = try F.only(F.plan([F.filter(.host(F.peer), .me, proto: 17, dport: 25)]))
        #expect(back.strings("local_ts") == ["dynamic[udp/25]"])
        #expect(back.strings("remote_ts") == ["198.18.9.2/32[udp]"])
        let (_, other) = try F.only(F.plan([F.filter(proto: 47)]))
        #expect(other.strings("remote_ts") == ["198.18.9.2/32[47]"])
    }

    @Test func rangeRuleAnswersTheRangeAndIsSpecialisedPerPeer() throws {
        let configuration = F.plan([F.filter(.me, .any)])
        let (template, child) = try F.only(configuration)
        #expect(template.peer == .range("%any"))
        #expect(template.definition.strings("remote_addrs") == ["%any"])
        #expect(template.definition.section("remote-1") == ["auth": "psk"])
        #expect(child.strings("remote_ts") == ["0.0.0.0/0"])
        #expect(child.string("start_action") == "none")
        #expect(configuration.secrets[template.secrets[0]]?.kind == .sharedKey(owners: []))
        let target = try #require(configuration.targets[0])
        #expect(target.rangeTemplate == template.name)
        #expect(target.connections.isEmpty)

        let (special, secrets) = KeyingPlanner.specialize(template, to: F.peer, secrets: configuration.secrets)
        #expect(special.name == template.name + "@198.18.9.2")
        #expect(special.peer == .host(F.peer))
        #expect(special.definition.strings("remote_addrs") == ["198.18.9.2"])
        #expect(special.definition.section("remote-1") == ["auth": "psk", "id": "198.18.9.2"])
        let specialChild = try #require(special.definition.section("children")?.sections.first?.message)
        #expect(specialChild.strings("remote_ts") == ["198.18.9.2/32"])
        #expect(secrets.map(\.kind) == [.sharedKey(owners: ["198.18.9.2"])])
        #expect(special.secrets == secrets.map(\.id))
    }

    @Test func subnetRangeKeepsPortsWhenSpecialised() throws {
        let network = FilterAddress.subnet(IPv4Address("198.18.0.0")!, mask: IPv4Address("255.255.0.0")!)
        let configuration = F.plan([F.filter(.me, network, proto: 6, dport: 445)])
        let (template, child) = try F.only(configuration)
        #expect(template.definition.strings("remote_addrs") == ["198.18.0.0/16"])
        #expect(child.strings("remote_ts") == ["198.18.0.0/16[tcp/445]"])
        let (special, _) = KeyingPlanner.specialize(template, to: F.peer, secrets: configuration.secrets)
        let specialChild = try #require(special.definition.section("children")?.sections.first?.message)
        #expect(specialChild.strings("remote_ts") == ["198.18.9.2/32[tcp/445]"])
    }

    @Test func specialServersAreOnePeerEach() throws {
        let configuration = F.plan([F.filter(.me, .server(.dns))])
        let (connection, child) = try F.only(configuration)
        #expect(connection.peer == .host(IPv4Address("198.18.9.53")!))
        #expect(child.strings("remote_ts") == ["198.18.9.53/32"])
        #expect(F.plan([F.filter(.me, .server(.wins))]).unnegotiable[0] != nil)
    }

    @Test(arguments: [KeyingDatapath.kernel, .libipsec])
    func tunnelRule(datapath: KeyingDatapath) throws {
        let local = FilterAddress.subnet(IPv4Address("198.18.10.0")!, mask: IPv4Address("255.255.255.0")!)
        let remote = FilterAddress.subnet(IPv4Address("198.18.20.0")!, mask: IPv4Address("255.255.255.0")!)
        let gateway = IPv4Address("198.18.9.254")!
        let configuration = F.plan([F.filter(local, remote, tunnel: gateway)], datapath: datapath)
        let (connection, child) = try F.only(configuration)
        #expect(connection.definition.strings("remote_addrs") == ["198.18.9.254"])
        #expect(child.string("mode") == "tunnel")
        #expect(child.strings("local_ts") == ["198.18.10.0/24"])
        #expect(child.strings("remote_ts") == ["198.18.20.0/24"])
        #expect(child.string("start_action") == (datapath == .kernel ? "trap" : "none"))
        // The inbound half (its endpoint is this computer) only answers.
        let inbound = F.plan([F.filter(remote, local, tunnel: F.me, rule: 2)], datapath: datapath)
        let (answer, answerChild) = try F.only(inbound)
        #expect(answer.respondsOnly)
        #expect(answer.definition.strings("remote_addrs") == ["%any"])
        #expect(answerChild.strings("local_ts") == ["198.18.10.0/24"])
        #expect(answerChild.strings("remote_ts") == ["198.18.20.0/24"])
        #expect(inbound.targets.isEmpty)
    }

    @Test func kerberosOnlyRulesAreNotNegotiable() {
        let configuration = F.plan([F.filter(auth: [.kerberos])])
        #expect(configuration.connections.isEmpty)
        let refusal = configuration.unnegotiable[0]
        #expect(refusal?.reason.contains("cannot be negotiated on Linux") == true)
        #expect(refusal?.reason.contains("Kerberos") == true)
        #expect(refusal?.rule.ruleName == "rule 1")
        #expect(configuration.unnegotiableRules.count == 1)
        #expect(configuration.targets.isEmpty)
    }

    @Test func kerberosBeforeAPresharedKeyIsSkipped() throws {
        let configuration = F.plan([F.filter(auth: [.kerberos, .preSharedKey("k")])])
        let (connection, _) = try F.only(configuration)
        #expect(connection.definition.section("local-1") == ["auth": "psk"])
        #expect(configuration.notes.contains { $0.contains("Kerberos") })
    }

    @Test func filtersWithoutNegotiationSettingsUseKerberos() {
        var filter = F.filter()
        filter.negotiation = nil
        #expect(F.plan([filter]).unnegotiable[0] != nil)
    }

    @Test func permitAndBlockRulesAddNothing() {
        let configuration = F.plan([
            F.filter(action: F.action(kind: .permit)), F.filter(action: F.action(kind: .block)),
        ])
        #expect(configuration == .empty)
    }

    @Test func filtersOfOneRuleAndPeerShareAConnection() throws {
        let configuration = F.plan([
            F.filter(proto: 6, dport: 80),
            F.filter(proto: 6, dport: 443),
        ])
        #expect(configuration.connections.count == 1)
        let connection = try #require(configuration.connections.values.first)
        #expect(connection.children.count == 2)
        #expect(configuration.targets[0]?.child != configuration.targets[1]?.child)
    }

    @Test func namesDependOnTheRuleOnly() {
        let one = F.plan([F.filter(rule: 1), F.filter(auth: [.preSharedKey("a")], rule: 2)])
        let changed = F.plan([F.filter(rule: 1), F.filter(auth: [.preSharedKey("b")], rule: 2)])
        #expect(Set(one.connections.keys) == Set(changed.connections.keys))
        let differing = one.connections.keys.filter { one.connections[$0] != changed.connections[$0] }
        #expect(differing.isEmpty)
        let secrets = one.secrets.keys.filter { one.secrets[$0] != changed.secrets[$0] }
        #expect(secrets.count == 1)
    }

    @Test func defaultResponseRuleOnlyAnswers() throws {
        let response = EffectiveDefaultResponse(
            action: F.action(),
            negotiation: NegotiationSettings(
                authenticationMethods: [.preSharedKey("dr")],
                mainMode: MainModeSettings(id: F.guid(1))
            ),
            provenance: Provenance(kind: .local, source: "local", policyName: "Client", ruleName: "")
        )
        let configuration = KeyingPlanner.plan(
            EffectivePolicy(generation: 1, defaultResponses: [response]),
            host: F.host,
            datapath: .kernel
        )
        let (connection, child) = try F.only(configuration)
        #expect(connection.respondsOnly)
        #expect(connection.name.hasSuffix("-default-response"))
        #expect(connection.definition.strings("remote_addrs") == ["%any"])
        #expect(child.strings("local_ts") == ["dynamic"])
        #expect(child.strings("remote_ts") == ["dynamic"])
        #expect(child.string("start_action") == "none")
        #expect(configuration.targets.isEmpty)
    }
}
