import DecisionCore
import Foundation
import IPsecTestKit
import Netsh
import PolicyModel
import Testing

/// `netsh ipsec dynamic show` lists the SPD in force from every source (issue 12 item 4): the persistent
/// and local policies' filters beside the dynamic rules, each with its source, generic and specific (as
/// the decision core compiles them), and `show rule` says which rules are dynamic.
@Suite struct NetshLiveSPDTests {
    static let me = IPv4Address(198, 18, 0, 10)

    static func guid(_ number: UInt8) -> IPsecGUID { IPsecGUID(bytes: [UInt8](repeating: number, count: 16))! }

    /// A static filter of `policy`'s `rule` from a source of `kind`.
    static func staticFilter(
        _ kind: SourceKind,
        policy: String,
        rule: String,
        list: String,
        action: FilterAction,
        _ filter: Filter
    ) -> EffectiveFilter {
        EffectiveFilter(
            filter: filter,
            inboundAction: action,
            provenance: Provenance(
                kind: kind,
                source: kind.rawValue,
                policyName: policy,
                policyID: guid(UInt8(policy.count)),
                ruleName: rule,
                ruleID: guid(UInt8(rule.count + 100)),
                filterListName: list,
                filterActionName: action.name
            )
        )
    }

    static let permit = FilterAction(id: guid(1), name: "Permit", action: .permit)
    static let block = FilterAction(id: guid(2), name: "Block", action: .block)
    static let require = FilterAction(
        id: guid(3),
        name: "Require Security",
        action: .negotiate,
        offers: SecurityOffer.windowsDefaults
    )
    static let respond = FilterAction(
        id: guid(4),
        name: "Default Response",
        action: .negotiate,
        type: .defaultResponse
    )

    /// Persistent: SSH from the management subnet. Local: telnet blocked, the database negotiated, DNS
    /// permitted (no DNS server known: resolves to nothing), the default response rule. A stale dynamic
    /// filter the running batch no longer has.
    static var inForce: EffectivePolicy {
        let ssh = Filter(
            id: guid(10),
            description: "SSH",
            mirrored: true,
            source: .subnet(IPv4Address(198, 18, 9, 0), mask: IPv4Address(255, 255, 255, 0)),
            destination: .me,
            ipProtocol: IPProtocol.tcp,
            destinationPort: 22
        )
        let telnet = Filter(
            id: guid(11),
            mirrored: true,
            source: .any,
            destination: .me,
            ipProtocol: IPProtocol.tcp,
            destinationPort: 23
        )
        let database = Filter(id: guid(12), mirrored: true, source: .me, destination: .host(IPv4Address(198, 18, 7, 7)))
        let dns = Filter(id: guid(13), mirrored: true, source: .me, destination: .server(.dns))
        var stale = DynamicPolicy(rules: [
            DynamicRule(
                id: guid(99),
                filter: Filter(id: .zero, mirrored: true, source: .me, destination: .host(IPv4Address(198, 18, 6, 6))),
                mainModePolicy: "Old",
                actionInbound: .block,
                actionOutbound: .block
            )
        ]).effectiveFilters(source: "dynamic")
        stale[0].provenance.source = "dynamic"
        return EffectivePolicy(
            generation: 7,
            filters: [
                staticFilter(.persistent, policy: "Mgmt", rule: "Admin SSH", list: "Admins", action: permit, ssh),
                staticFilter(.local, policy: "Web", rule: "No telnet", list: "Telnet", action: block, telnet),
                staticFilter(.local, policy: "Web", rule: "Database", list: "DB", action: require, database),
                staticFilter(.local, policy: "Web", rule: "Name service", list: "DNS", action: permit, dns),
                staticFilter(
                    .local,
                    policy: "Web",
                    rule: "",
                    list: "",
                    action: respond,
                    Filter(id: guid(14), mirrored: true, source: .me, destination: .any)
                ),
            ] + stale
        )
    }

    static func harness(mode: DriverMode? = .operational(.secure)) throws -> NetshHarness {
        let netsh = NetshHarness(
            dynamic: InMemoryNetshDynamicBackend(
                spd: NetshSPD(inForce: inForce, host: HostInfo(addresses: [me]), driverMode: mode)
            )
        )
        try netsh.d("add mmpolicy MM")
        try netsh.d("add qmpolicy QM")
        try netsh.d("add rule me 198.18.5.5 MM QM protocol=UDP dstport=514 actioninbound=block actionoutbound=block")
        return netsh
    }

    @Test func genericFiltersComeFromEverySourceWithTheirSource() throws {
        let netsh = try Self.harness()
        let text = try netsh.d("show qmfilter all")
        #expect(text.contains("Policy Source           : persistent policy \"Mgmt\""), "\(text)")
        #expect(text.contains("Policy Source           : local policy \"Web\""))
        #expect(text.contains("Policy Source           : dynamic"))
        #expect(text.contains("Filter Name             : Admins"))
        #expect(text.contains("Rule                    : No telnet"))
        #expect(text.contains("Destination Port        : 514"))
        #expect(text.contains("Quick Mode Policy       : Require Security"))
        // The dynamic rules as they are now, not the stale one; the default response rule adds no filter.
        #expect(!text.contains("198.18.6.6"))
        #expect(!text.contains("Default Response"))
        #expect(text.contains("No. of Filters          : 5"))
    }

    @Test func specificFiltersAreTheDriversCompiledTable() throws {
        let netsh = try Self.harness()
        let text = try netsh.d("show qmfilter type=specific")
        // Telnet: any → me mirrored; inbound to this computer's address, outbound back from it.
        #expect(text.contains("Destination Address     : 198.18.0.10 (255.255.255.255)"))
        let view = NetshFiltersInForce(netsh.dynamic.spd)
        let table = FilterCompiler.compile(view.policy, host: HostInfo(addresses: [Self.me]))
        let specific = view.specific()
        // Every compiled filter is listed, one direction each here (every filter touches this computer).
        #expect(specific.filters.count == table.filters.count)
        let telnet = specific.filters.filter { $0.origin.provenance.filterListName == "Telnet" }
        #expect(
            Set(telnet.map(\.direction)) == [.inbound, .outbound]
                && telnet.allSatisfy { $0.action == .block }
        )
        #expect(
            telnet.first { $0.direction == .inbound }?.destination == .host(Self.me)
                && telnet.first { $0.direction == .inbound }?.destinationPort == 23
        )
        // DNS resolves to no server: said, not listed.
        #expect(specific.unresolved.map(\.provenance.filterListName) == ["DNS"])
        #expect(text.contains("Filter DNS (local policy \"Web\""))
        #expect(text.contains("matches nothing"))
        // Most specific first.
        let weights = specific.filters.map(\.weight.value)
        #expect(weights == weights.sorted(by: >))
    }

    @Test func showRuleMarksTheDynamicRules() throws {
        let netsh = try Self.harness()
        let text = try netsh.d("show rule")
        #expect(text.contains("Rule Name               : Admin SSH"))
        #expect(text.components(separatedBy: "Dynamic                 : NO").count - 1 == 4)
        #expect(text.components(separatedBy: "Dynamic                 : YES").count - 1 == 1)
        #expect(text.contains("No. of Rules            : 5"))
        #expect(try netsh.d("show rule type=tunnel") == "There are no rules in the SPD.\n")
    }

    @Test func mainModeFiltersAndQuickModePoliciesOfNegotiatingRules() throws {
        let netsh = try Self.harness()
        let mainMode = try netsh.d("show mmfilter all")
        // The dynamic rule and the negotiating local rule; permit and block rules need no IKE.
        #expect(mainMode.contains("No. of Filters          : 2"), "\(mainMode)")
        #expect(mainMode.contains("Main Mode Policy        : Web"))
        let policies = try netsh.d("show qmpolicy all")
        #expect(policies.contains("Policy Name             : QM"))
        #expect(policies.contains("Policy Name             : Require Security"))
        #expect(policies.contains("Policy Source           : local policy \"Web\""))
        #expect(try netsh.d("show qmpolicy name=\"Require Security\"").contains("ESP[3DES,SHA1]"))
    }

    @Test func mainModePoliciesComeFromEverySourceWithTheirSource() throws {
        // A persistent policy negotiating with its own main mode, beside the local one on defaults.
        var persistent = Self.staticFilter(
            .persistent,
            policy: "Branch",
            rule: "Tunnel",
            list: "Branch net",
            action: Self.require,
            Filter(id: Self.guid(15), mirrored: true, source: .me, destination: .host(IPv4Address(198, 18, 8, 8)))
        )
        persistent.negotiation = NegotiationSettings(
            authenticationMethods: [.kerberos],
            mainMode: MainModeSettings(
                id: Self.guid(20),
                masterKeyPFS: true,
                lifetimeSeconds: 3_600,
                securityMethods: [MainModeSecurityMethod(encryption: .des, hash: .md5, group: .group1)]
            ),
            softAssociationIdleSeconds: 60
        )
        var inForce = Self.inForce
        inForce.filters.insert(persistent, at: 1)
        let netsh = NetshHarness(
            dynamic: InMemoryNetshDynamicBackend(spd: NetshSPD(inForce: inForce, host: HostInfo(addresses: [Self.me])))
        )
        try netsh.d("add mmpolicy MM")
        let text = try netsh.d("show mmpolicy all")
        #expect(text.components(separatedBy: "Main Mode Policy").count - 1 == 3, "\(text)")
        #expect(text.contains("Policy Name             : MM"))
        #expect(text.contains("Policy Source           : dynamic"))
        // The local policy's rules share one main mode: listed once.
        #expect(text.components(separatedBy: "Policy Source           : local policy \"Web\"").count - 1 == 1)
        let branch = try netsh.d("show mmpolicy name=Branch")
        #expect(branch.contains("Policy Source           : persistent policy \"Branch\""), "\(branch)")
        #expect(branch.contains("Soft SA Expiration Time : 60"))
        #expect(branch.contains("No. of Security Methods : 1"))
        #expect(branch.contains("DES"))
        #expect(branch.contains("MD5"))
        #expect(branch.contains("0/3600"))
        let web = try netsh.d("show mmpolicy name=Web")
        #expect(web.contains("No. of Security Methods : \(MainModeSecurityMethod.windowsDefaults.count)"), "\(web)")
        #expect(web.contains("0/28800"))
    }

    @Test func filtersAreFoundByNameAddressAndAction() throws {
        let netsh = try Self.harness()
        #expect(try netsh.d("show qmfilter name=Telnet").contains("No. of Filters          : 1"))
        #expect(try netsh.d("show qmfilter name=\"No telnet\"").contains("Filter Name             : Telnet"))
        let blocked = try netsh.d("show qmfilter all actioninbound=block")
        #expect(blocked.contains("No. of Filters          : 2"))
        let permitted = try netsh.d("show qmfilter all actioninbound=permit protocol=TCP")
        #expect(permitted.contains("Filter Name             : Admins") && !permitted.contains("DNS"))
        #expect(netsh.error("ipsec dynamic show qmfilter name=Nothing")?.message.contains("Nothing") == true)
    }

    @Test func outsideSecureModeTheListingSaysTheFiltersDecideNothing() throws {
        let blocked = try Self.harness(mode: .operational(.block))
        #expect(try blocked.d("show qmfilter").hasPrefix("Note: the IPsec driver is in block mode"))
        #expect(try blocked.d("show rule").hasPrefix("Note: the IPsec driver is in block mode"))
        let secure = try Self.harness()
        #expect(!(try secure.d("show qmfilter")).contains("Note:"))
    }

    @Test func showAllListsTheWholeSPD() throws {
        let netsh = try Self.harness()
        let text = try netsh.d("show all")
        #expect(text.contains("Main Mode Filters - Transport Filters (generic)"))
        #expect(text.contains("Quick Mode Filters - Transport Filters (generic)"))
        #expect(text.contains("Policy Name             : Require Security"))
        #expect(text.contains("persistent policy \"Mgmt\""))
    }
}
