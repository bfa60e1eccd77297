import DecisionCore
import IPsecTestKit
import Netsh
import PolicyFormats
import PolicyModel
import Testing

@Suite struct NetshDynamicTests {
    @Test func everyDynamicCommandNeedsTheRunningService() throws {
        let netsh = NetshHarness(dynamic: InMemoryNetshDynamicBackend(isRunning: false))
        for line in [
            "add mmpolicy MM", "show config", "set config property=ikelogging value=1", "show stats", "delete all",
            "show qmfilter all",
        ] {
            #expect(netsh.error("ipsec dynamic " + line) == .serviceNotRunning)
        }
        #expect(NetshError.serviceNotRunning.message.hasPrefix("The IPsec Services service is not running."))
    }

    @Test func mainModePolicies() throws {
        let netsh = NetshHarness()
        try netsh.d(
            #"add mmpolicy name=MM qmpermm=10 mmlifetime=300 softsaexpirationtime=120 mmsecmethods="3DES-SHA1-3 DES-MD5-1""#
        )
        var policy = try #require(netsh.dynamic.spd.policy.mainModePolicy(named: "mm"))
        #expect(policy.quickModeLimit == 10 && policy.lifetimeMinutes == 300 && policy.softSAExpirationSeconds == 120)
        #expect(policy.securityMethods.count == 2 && policy.securityMethods[0].lifetimeSeconds == 18_000)
        try netsh.d("add mmpolicy Default")
        let defaults = try #require(netsh.dynamic.spd.policy.mainModePolicy(named: "Default"))
        #expect(defaults.lifetimeMinutes == 480 && defaults.quickModeLimit == 0 && defaults.securityMethods.count == 4)
        try netsh.d("set mmpolicy all mmlifetime=60")
        policy = try #require(netsh.dynamic.spd.policy.mainModePolicy(named: "MM"))
        #expect(
            policy.lifetimeMinutes == 60
                && netsh.dynamic.spd.policy.mainModePolicies.allSatisfy { $0.lifetimeMinutes == 60 }
        )
        #expect(netsh.error("ipsec dynamic add mmpolicy MM")?.message.contains("already exists") == true)
        #expect(netsh.error("ipsec dynamic set mmpolicy Nope qmpermm=1")?.message.contains("does not exist") == true)
        #expect(
            netsh.error("ipsec dynamic add mmpolicy X mmsec=3DES-SHA1-9")?.message.contains("'mmsecmethods'") == true
        )
        try netsh.d("delete mmpolicy name=Default")
        #expect(netsh.dynamic.spd.policy.mainModePolicies.map(\.name) == ["MM"])
        try netsh.d("delete mmpolicy all")
        #expect(netsh.dynamic.spd.policy.mainModePolicies.isEmpty)
    }

    @Test func quickModePolicies() throws {
        let netsh = NetshHarness()
        try netsh.d(#"add qmpolicy name=QM soft=yes pfsgroup=grp3 qmsec="AH[MD5]:10000k/24000s ESP[DES,SHA1]""#)
        let policy = try #require(netsh.dynamic.spd.policy.quickModePolicy(named: "QM"))
        #expect(policy.soft && policy.pfsGroup == .group3 && policy.offers.count == 2)
        #expect(policy.offers.allSatisfy { $0.perfectForwardSecrecy })
        try netsh.d("add qmpolicy Plain")
        #expect(netsh.dynamic.spd.policy.quickModePolicy(named: "Plain")?.pfsGroup == DynamicPFSGroup.none)
        try netsh.d("set qmpolicy name=QM soft=no pfsgroup=NOPFS")
        #expect(netsh.dynamic.spd.policy.quickModePolicy(named: "QM")?.soft == false)
        #expect(
            netsh.error("ipsec dynamic add qmpolicy X pfsgroup=GRP9")?.message.contains(
                "GRP1, GRP2, GRP3, GRPMM, NOPFS"
            ) == true
        )
        try netsh.d("delete qmpolicy all")
        #expect(netsh.dynamic.spd.policy.quickModePolicies.isEmpty)
    }

    @Test func rulesWithInboundAndOutboundActions() throws {
        let netsh = NetshHarness()
        try netsh.d("add mmpolicy MM")
        try netsh.d("add qmpolicy QM")
        try netsh.d(
            "add rule srcaddr=me dstaddr=198.18.2.0 dstmask=24 mmpolicy=MM qmpolicy=QM protocol=TCP dstport=3389 actioninbound=negotiate actionoutbound=permit conntype=lan psk=k"
        )
        var rule = try #require(netsh.dynamic.spd.policy.rules.first)
        #expect(rule.filter.destination == .subnet(IPv4Address(198, 18, 2, 0), mask: IPv4Address(255, 255, 255, 0)))
        #expect(rule.actionInbound == .negotiate && rule.actionOutbound == .permit && rule.interfaceType == .lan)
        #expect(rule.authenticationMethods == [.preSharedKey("k")] && rule.filter.mirrored)
        // Block/permit rules need no quick mode policy.
        try netsh.d(
            "add rule srcaddr=any dstaddr=me mmpolicy=MM protocol=UDP dstport=161 actioninbound=block actionoutbound=block"
        )
        #expect(netsh.dynamic.spd.policy.rules.count == 2)
        #expect(
            netsh.error("ipsec dynamic add rule me 198.18.9.9 MM")?.message
                == "The parameter 'qmpolicy' is required when actioninbound or actionoutbound is negotiate."
        )
        #expect(
            netsh.error("ipsec dynamic add rule me any mmpolicy=Nope actioninbound=block actionoutbound=block")?.message
                .contains("Nope") == true
        )
        #expect(
            netsh.error("ipsec dynamic add rule me 198.18.2.0 MM QM dstmask=24 protocol=TCP dstport=3389 conntype=lan")?
                .message.contains("already exists") == true
        )
        // set rule finds the rule by its filter and changes only the actions, policies and authentication.
        try netsh.d("set rule me 198.18.2.0 TCP 0 3389 yes lan dstmask=24 actionoutbound=block kerberos=yes")
        rule = try #require(netsh.dynamic.spd.policy.rules.first)
        #expect(rule.actionOutbound == .block && rule.authenticationMethods == [.kerberos])
        #expect(
            netsh.error("ipsec dynamic set rule me 198.18.2.0 actionoutbound=block")?.message.contains("No rule")
                == true
        )
        #expect(netsh.error("ipsec dynamic delete mmpolicy MM")?.message.contains("used by a rule") == true)
        try netsh.d("delete rule srcaddr=any dstaddr=me protocol=UDP dstport=161")
        #expect(netsh.dynamic.spd.policy.rules.count == 1)
        try netsh.d("delete all")
        #expect(netsh.dynamic.spd.policy.rules.isEmpty && netsh.dynamic.spd.policy.mainModePolicies.isEmpty)
    }

    @Test func dynamicRulesVanishWhenTheServiceStopsButConfigStays() throws {
        let netsh = NetshHarness()
        try netsh.d("add mmpolicy MM")
        try netsh.d("add rule me any MM actioninbound=block actionoutbound=block")
        try netsh.d("set config property=bootmode value=block")
        netsh.dynamic.stopService()
        netsh.dynamic.isRunning = true
        #expect(netsh.dynamic.spd.policy.rules.isEmpty && netsh.dynamic.spd.settings.bootMode == .block)
    }

    @Test func setConfigEveryProperty() throws {
        let netsh = NetshHarness()
        try netsh.d("set config property=ipsecdiagnostics value=7")
        try netsh.d("set config ikelogging 1")
        try netsh.d("set config property=strongcrlcheck value=2")
        try netsh.d("set config property=ipsecloginterval value=600")
        #expect(try netsh.d("set config property=ipsecexempt value=2").contains("next computer startup"))
        try netsh.d("set config property=bootmode value=Permit")
        try netsh.d(#"set config property=bootexemptions value="tcp:0:3389:inbound udp:68:67:outbound""#)
        let config = netsh.dynamic.spd.settings
        #expect(config.diagnostics == 7 && config.ikeLogging == 1 && config.strongCRLCheck == 2)
        #expect(config.logIntervalSeconds == 600 && config.exemptionLevel == 2 && config.bootMode == .permit)
        #expect(config.bootExemptions.map(\.description) == ["TCP:0:3389:inbound", "UDP:68:67:outbound"])
        try netsh.d("set config property=bootexemptions value=none")
        #expect(netsh.dynamic.spd.settings.bootExemptions.isEmpty)
        let errors = [
            "property=ipsecdiagnostics value=8": "0 to 7",
            "property=ikelogging value=2": "0 to 1",
            "property=strongcrlcheck value=3": "0 to 2",
            "property=ipsecloginterval value=59": "60 to 86400",
            "property=ipsecexempt value=4": "0 to 3",
            "property=bootmode value=secure": "stateful, block, permit",
            "property=bootexemptions value=tcp:0:3389": "protocol:srcport:dstport:direction",
            "property=colour value=1": "ipsecdiagnostics, ikelogging",
            "property=bootmode": "'value'",
        ]
        for (arguments, expected) in errors {
            let message = netsh.error("ipsec dynamic set config " + arguments)?.message ?? ""
            #expect(message.contains(expected), "\(arguments): \(message)")
        }
    }

    @Test func showConfigAndDefaults() throws {
        let netsh = NetshHarness()
        let text = try netsh.d("show config")
        #expect(text.contains("IPsec Diagnostics       : 0"))
        #expect(text.contains("Strong CRL Check        : 0"))
        #expect(text.contains("IPsec Log Interval      : 3600 seconds"))
        #expect(text.contains("IPsec Exemptions        : 3"))
        #expect(text.contains("Boot Mode               : DEFAULT (STATEFUL IF A POLICY IS ASSIGNED, ELSE PERMIT)"))
        try netsh.d("set config bootexemptions tcp:0:3389:inbound")
        // Not applied at a computer startup yet: shown as waiting for the next one.
        let pending = try netsh.d("show config")
        #expect(pending.contains("Boot Exemptions         : <None>"))
        #expect(pending.contains("Pending Boot Exemptions : TCP:0:3389:inbound, at the next computer startup"))
        #expect(pending.contains("ipsecsvc boot has not run since this computer started"))
        // The computer started with them: in force, nothing pending.
        netsh.dynamic.spd.bootSettings = netsh.dynamic.spd.settings
        let applied = try netsh.d("show config")
        #expect(applied.contains("TCP          0        3389     INBOUND"))
        #expect(!applied.contains("Pending"))
    }

    /// Boot-time settings wait, as netsh says: `ipsecexempt` until the service next starts, `bootmode`
    /// and `bootexemptions` until the next computer startup; `show config` shows the value in force and
    /// the one that waits.
    @Test func bootTimeSettingsShowTheValueInForceAndThePendingOne() throws {
        let netsh = NetshHarness()
        let running = DynamicSettings()
        netsh.dynamic.spd.serviceSettings = running
        var booted = DynamicSettings()
        booted.bootMode = .stateful
        netsh.dynamic.spd.bootSettings = booted
        netsh.dynamic.spd.settings = booted
        try netsh.d("set config property=ipsecexempt value=1")
        #expect(try netsh.d("set config property=bootmode value=block").contains("next computer startup"))
        try netsh.d("set config property=ipsecdiagnostics value=5")
        let text = try netsh.d("show config")
        #expect(text.contains("IPsec Exemptions        : 3 (pending: 1, at the next service start)"), "\(text)")
        #expect(text.contains("Boot Mode               : STATEFUL (pending: BLOCK, at the next computer startup)"))
        #expect(text.contains("IPsec Diagnostics       : 5"))
        let state = netsh.dynamic.spd.settingsState
        #expect(state.pending == ["ipsecexempt", "bootmode"])
        #expect(state.inForce("ipsecexempt") == "3" && state.inForce("bootmode") == "stateful")
    }

    @Test func specificFiltersExpandMirroringAndMeWithWeights() throws {
        let netsh = NetshHarness(
            dynamic: InMemoryNetshDynamicBackend(
                spd: NetshSPD(host: HostInfo(addresses: [IPv4Address(198, 18, 0, 10), IPv4Address(198, 18, 1, 10)]))
            )
        )
        try netsh.d("add mmpolicy MM")
        try netsh.d("add qmpolicy QM")
        try netsh.d("add rule me 198.18.5.5 MM QM protocol=TCP dstport=22 actioninbound=negotiate actionoutbound=block")
        let filters = NetshFiltersInForce(netsh.dynamic.spd).specific().filters
        #expect(filters.count == 4)  // 2 directions × 2 local addresses
        let outbound = filters.filter { $0.direction == .outbound }
        let inbound = filters.filter { $0.direction == .inbound }
        #expect(outbound.count == 2 && outbound.allSatisfy { $0.action == .block && $0.destinationPort == 22 })
        #expect(inbound.count == 2 && inbound.allSatisfy { $0.action == .negotiate && $0.sourcePort == 22 })
        // The driver's weight: the configured filter's (/32 + /32, a protocol, a port), in both directions.
        #expect(filters.allSatisfy { $0.weight.value == 64 * 8 + 4 + 1 })
        #expect(filters.first?.action == .block)  // equal weights: block first
        let text = try netsh.d("show qmfilter all type=specific")
        #expect(text.contains("Weight                  : 517"))
        #expect(text.contains("Source Address          : 198.18.1.10 (255.255.255.255)"))
        #expect(text.contains("Direction               : Inbound"))
        #expect(text.contains("Policy Source           : dynamic"))
        let generic = try netsh.d("show qmfilter all")
        #expect(generic.contains("Source Address          : <My IP Address> (255.255.255.255)"))
        #expect(generic.contains("Inbound Action          : Negotiate"))
        #expect(generic.contains("Outbound Action         : Block"))
        #expect(try netsh.d("show mmfilter type=specific").contains("Main Mode Policy        : MM"))
    }

    @Test func showCommands() throws {
        let netsh = NetshHarness()
        netsh.dynamic.spd.statistics = NetshStatistics(
            ike: [NetshCounter("Main Modes", 3)],
            ipsec: [NetshCounter("Packets Not Negotiated", 7)]
        )
        try netsh.d("add mmpolicy MM")
        try netsh.d("add qmpolicy QM")
        try netsh.d("add rule me 198.18.5.5 MM QM tunneldstaddress=198.18.5.1")
        #expect(try netsh.d("show mmpolicy all").contains("Policy Name             : MM"))
        #expect(try netsh.d("show qmpolicy name=QM").contains("PFS Group               : NOPFS"))
        #expect(try netsh.d("show rule type=tunnel").contains("Tunnel Destination      : 198.18.5.1"))
        #expect(try netsh.d("show rule type=transport") == "There are no rules in the SPD.\n")
        #expect(try netsh.d("show qmfilter all").contains("Tunnel Filters"))
        let stats = try netsh.d("show stats")
        #expect(stats.contains("Main Modes              : 3") && stats.contains("Packets Not Negotiated  : 7"))
        #expect(!(try netsh.d("show stats type=ike")).contains("Packets"))
        #expect(try netsh.d("show qmsas").contains("No security associations"))
        #expect(try netsh.d("show mmsas all").contains("No security associations"))
        #expect(try netsh.d("show mmfilter srcaddr=me").contains("Main Mode Policy        : MM"))
        #expect(try netsh.d("show mmfilter srcaddr=198.18.9.9") == "There are no main mode filters in the SPD.\n")
        #expect(try netsh.d("show qmfilter actioninbound=block") == "There are no quick mode filters in the SPD.\n")
        #expect(
            try netsh.d("show qmfilter actioninbound=negotiate protocol=any").contains("Quick Mode Policy       : QM")
        )
        let all = try netsh.d("show all")
        #expect(all.contains("System configuration parameters") && all.contains("Quick Mode Policy"))
        #expect(netsh.error("ipsec dynamic show mmpolicy name=Nope")?.message.contains("does not exist") == true)
    }
}

@Suite struct NetshSpecificFilterOrderTests {
    @Test func equalWeightsOrderBlockThenPermitThenNegotiate() throws {
        var policy = DynamicPolicy(mainModePolicies: [DynamicMainModePolicy(name: "MM")])
        for (action, number) in [(FilterActionKind.negotiate, UInt8(1)), (.permit, 2), (.block, 3)] {
            policy.rules.append(
                DynamicRule(
                    id: IPsecGUID(bytes: [UInt8](repeating: number, count: 16))!,
                    filter: Filter(
                        id: .zero,
                        mirrored: false,
                        source: .me,
                        destination: .host(IPv4Address(198, 18, 0, 9))
                    ),
                    mainModePolicy: "MM",
                    actionInbound: action,
                    actionOutbound: action
                )
            )
        }
        let spd = NetshSPD(policy: policy, host: HostInfo(addresses: [IPv4Address(198, 18, 0, 1)]))
        let specific = NetshFiltersInForce(spd).specific().filters
        #expect(specific.map(\.action) == [.block, .permit, .negotiate])
        #expect(specific.allSatisfy { $0.source == .host(IPv4Address(198, 18, 0, 1)) && $0.direction == .outbound })
    }
}
