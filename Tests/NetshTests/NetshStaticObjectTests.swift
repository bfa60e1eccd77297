import IPsecTestKit
import Netsh
import PolicyFormats
import PolicyModel
import Testing

@Suite struct NetshStaticFilterTests {
    @Test func addFilterDefaultsAndCreatesAMissingList() throws {
        let netsh = NetshHarness()
        try netsh.s("add filter filterlist=Web srcaddr=me dstaddr=198.18.1.0 dstmask=24")
        let list = try #require(netsh.local.filterList(named: "Web"))
        let filter = try #require(list.filters.first)
        #expect(filter.mirrored && filter.ipProtocol == 0 && filter.sourcePort == 0 && filter.destinationPort == 0)
        #expect(filter.source == .me)
        #expect(filter.destination == .subnet(IPv4Address(198, 18, 1, 0), mask: IPv4Address(255, 255, 255, 0)))
    }

    @Test func addFilterFields() throws {
        let netsh = NetshHarness()
        try netsh.s("add filterlist L description=\"web traffic\"")
        try netsh.s("add filter L any 198.18.0.5 \"RDP\" TCP no 0.0.0.0 255.255.255.255 0 3389")
        try netsh.s("add filter filterlist=L srcaddr=DNS dstaddr=any protocol=UDP srcport=53")
        try netsh.s("add filter filterlist=L srcaddr=me dstaddr=web.example.test protocol=TCP dstport=443")
        try netsh.s("add filter filterlist=L srcaddr=198.18.7.9 srcmask=16 dstaddr=me protocol=ICMP")
        let list = try #require(netsh.local.filterList(named: "L"))
        #expect(list.description == "web traffic")
        #expect(list.filters.count == 5)
        #expect(list.filters[0].description == "RDP" && !list.filters[0].mirrored)
        #expect(list.filters[0].source == .any && list.filters[0].destination == .host(IPv4Address(198, 18, 0, 5)))
        #expect(list.filters[0].ipProtocol == 6 && list.filters[0].destinationPort == 3389)
        // A server type on one side makes the other side "me".
        #expect(list.filters[1].source == .server(.dns) && list.filters[1].destination == .me)
        // A DNS name makes one filter per address.
        #expect(list.filters[2].destination == .dnsName("web.example.test", address: IPv4Address(198, 18, 5, 30)))
        #expect(list.filters[3].destination == .dnsName("web.example.test", address: IPv4Address(198, 18, 5, 31)))
        #expect(list.filters[4].source == .subnet(IPv4Address(198, 18, 0, 0), mask: IPv4Address(255, 255, 0, 0)))
    }

    @Test func addFilterErrors() throws {
        let netsh = NetshHarness()
        let missing = netsh.error("ipsec static add filter filterlist=L srcaddr=me")
        #expect(missing?.message.contains("'dstaddr'") == true)
        #expect(
            netsh.error("ipsec static add filter L me any protocol=ICMP dstport=80")?.message.contains("'dstport'")
                == true
        )
        #expect(
            netsh.error("ipsec static add filter L me nowhere.example.test")?.message.contains("could not be resolved")
                == true
        )
        #expect(netsh.error("ipsec static add filter L me 198.18.0.1-198.18.0.9")?.message.contains("ranges") == true)
        #expect(
            netsh.error("ipsec static add filter L me any srcmask=255.0.255.0")?.message.contains("'srcmask'") == true
        )
        #expect(netsh.error("ipsec static add filter L me any protocol=GRE")?.message.contains("'protocol'") == true)
        // A failing command changes nothing, not even the list it would create.
        #expect(netsh.local.filterLists.isEmpty)
    }

    @Test func deleteFilterDeletesEveryMatch() throws {
        let netsh = NetshHarness()
        try netsh.s("add filter L me any protocol=TCP dstport=80")
        try netsh.s("add filter L me any protocol=TCP dstport=443")
        try netsh.s("add filter L me any protocol=UDP dstport=53")
        try netsh.s("delete filter L me any protocol=TCP")
        #expect(netsh.local.filterLists[0].filters.map(\.destinationPort) == [53])
        #expect(netsh.error("ipsec static delete filter L me any protocol=TCP")?.message.contains("No filter") == true)
        #expect(
            netsh.error("ipsec static delete filter Nope me any")?.message
                == #"Filter List with name "Nope" does not exist."#
        )
    }

    @Test func filterListsSetAndDelete() throws {
        let netsh = NetshHarness()
        try netsh.s("add filterlist A")
        #expect(netsh.error("ipsec static add filterlist a")?.message.contains("already exists") == true)
        try netsh.s("set filterlist A newname=B desc=changed")
        #expect(netsh.local.filterLists[0].name == "B" && netsh.local.filterLists[0].description == "changed")
        let id = netsh.local.filterLists[0].id
        try netsh.s("set filterlist guid=\(id.braced) newname=C")
        #expect(netsh.local.filterLists[0].name == "C")
        try netsh.s("add policy P")
        try netsh.s("add filteraction Permit action=permit")
        try netsh.s("add rule R P C Permit")
        let inUse = netsh.error("ipsec static delete filterlist C")
        #expect(inUse?.message.contains(#"used by rule "R" of policy "P""#) == true)
        try netsh.s("add filterlist Unused")
        let note = try netsh.s("delete filterlist all")
        #expect(note.contains("\"C\" is used by a rule"))
        #expect(netsh.local.filterLists.map(\.name) == ["C"])
        try netsh.s("delete rule R P")
        try netsh.s("delete filterlist name=C")
        #expect(netsh.local.filterLists.isEmpty)
    }
}

@Suite struct NetshStaticFilterActionTests {
    @Test func addFilterActionDefaults() throws {
        let netsh = NetshHarness()
        try netsh.s("add filteraction name=Secure")
        let action = try #require(netsh.local.filterAction(named: "Secure"))
        #expect(action.action == .negotiate && !action.inboundPassThrough && !action.allowFallbackToClear)
        #expect(action.offers == SecurityOffer.windowsDefaults && !action.quickModePFS)
    }

    @Test func addFilterActionParameters() throws {
        let netsh = NetshHarness()
        try netsh.s(
            #"add filteraction name=FilterA qmpfs=yes soft=y inpass=yes action=negotiate qmsec="AH[MD5]:204800k/300s ESP[DES,SHA1]:30000k/480s""#
        )
        try netsh.s("add filteraction Block desc=drop qmpfs=yes inpass=yes soft=yes action=block qmsec=ESP[3DES,SHA1]")
        let a = try #require(netsh.local.filterAction(named: "FilterA"))
        #expect(a.quickModePFS && a.inboundPassThrough && a.allowFallbackToClear)
        #expect(a.offers.map(\.lifetimeSeconds) == [300, 480])
        let block = try #require(netsh.local.filterAction(named: "Block"))
        // Security methods and negotiation flags are ignored unless the action is negotiate.
        #expect(
            block.action == .block && block.offers.isEmpty && !block.inboundPassThrough && block.description == "drop"
        )
        #expect(
            netsh.error("ipsec static add filteraction X action=allow")?.message.contains("permit, block, negotiate")
                == true
        )
        #expect(
            netsh.error("ipsec static add filteraction X qmsec=ESP[AES,SHA1]")?.message.contains("'qmsecmethods'")
                == true
        )
        #expect(netsh.error("ipsec static add filteraction block")?.message.contains("already exists") == true)
    }

    @Test func setAndDeleteFilterAction() throws {
        let netsh = NetshHarness()
        try netsh.s("add filteraction A action=permit")
        try netsh.s("set filteraction A action=negotiate qmpfs=yes")
        var action = try #require(netsh.local.filterAction(named: "A"))
        #expect(
            action.action == .negotiate
                && action.offers
                    == SecurityOffer.windowsDefaults.map {
                        var offer = $0
                        offer.perfectForwardSecrecy = true
                        return offer
                    }
        )
        try netsh.s("set filteraction guid=\(action.id.braced) newname=B qmsec=ESP[3DES,MD5]:100000k/2000s")
        action = try #require(netsh.local.filterAction(named: "B"))
        #expect(action.offers.count == 1 && action.quickModePFS)
        try netsh.s("add policy P")
        #expect(netsh.error("ipsec static add rule R P L B")?.message == #"Filter List with name "L" does not exist."#)
    }

    @Test func filterActionInUseCannotBeDeleted() throws {
        let netsh = NetshHarness()
        try netsh.s("add policy P")
        try netsh.s("add filterlist L")
        try netsh.s("add filteraction B action=block")
        try netsh.s("add rule R P L B")
        #expect(netsh.error("ipsec static delete filteraction B")?.message.contains("cannot be deleted") == true)
        try netsh.s("add filteraction C")
        try netsh.s("delete filteraction all")
        #expect(netsh.local.filterActions.filter { $0.type == .standard }.map(\.name) == ["B"])
        #expect(netsh.local.filterActions.count == 2)  // the default response action stays
    }
}
