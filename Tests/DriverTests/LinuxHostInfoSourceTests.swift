import DecisionCore
import Glibc
import IPsecTestKit
import PolicyModel
import Testing

@testable import Driver
@testable import IPsecSystem

/// The driver's one reader of the host's state (the text parsers are tested in DecisionCoreTests).
@Suite struct LinuxHostInfoSourceTests {
    @Test func readsThisHost() {
        let info = LinuxHostInfoSource().current()
        #expect(info.winsServers.isEmpty)
        #expect(!info.addresses.contains(IPv4Address(127, 0, 0, 1)))
    }

    /// Every link is listed with the kernel's index; loopback is loopback whatever the patterns say.
    @Test func listsInterfacesWithTheirKernelIndex() throws {
        let source = LinuxHostInfoSource(classifier: InterfaceClassifier(dialupPatterns: ["*"]))
        let info = source.current()
        let loopback = try #require(info.interface(named: "lo"))
        #expect(loopback.index == if_nametoindex("lo"))
        #expect(loopback.kind == .loopback)
        for interface in info.interfaces where interface.name != "lo" {
            #expect(interface.index == if_nametoindex(interface.name))
            #expect(interface.kind == .remoteAccess, "\(interface)")
        }
    }

    /// `me` is the IPv4 addresses of the interfaces that are up, loopback excluded; the broadcast
    /// addresses follow from address and mask (glibc's "broadcast" that is the address itself is not one).
    @Test func addressesAndBroadcastsFromTheKernelsEntries() {
        func entry(
            _ name: String,
            _ address: [UInt8],
            mask: [UInt8]? = nil,
            broadcast: [UInt8]? = nil,
            up: Bool = true,
            loopback: Bool = false
        ) -> InterfaceAddress {
            InterfaceAddress(
                interface: name,
                family: .ipv4,
                address: address,
                netmask: mask,
                broadcast: broadcast,
                isUp: up,
                isRunning: up,
                isLoopback: loopback,
                supportsBroadcast: broadcast != nil
            )
        }
        var link = InterfaceAddress(
            interface: "veth0",
            family: .link,
            address: [],
            isUp: true,
            isRunning: true,
            isLoopback: false,
            supportsBroadcast: true
        )
        link.linkIndex = 7
        link.hardwareType = 1
        var loopbackLink = link
        loopbackLink.interface = "lo"
        loopbackLink.linkIndex = 1
        loopbackLink.hardwareType = 772
        loopbackLink.isLoopback = true
        let links = LinuxHostInfoSource.links([
            link,
            entry("lo", [127, 0, 0, 1], mask: [255, 0, 0, 0], loopback: true),
            entry("veth0", [198, 18, 0, 2], mask: [255, 255, 255, 0], broadcast: [198, 18, 0, 2]),
            entry("veth1", [198, 18, 1, 2], mask: [255, 255, 255, 0], broadcast: [198, 18, 1, 255], up: false),
            loopbackLink,
        ])
        #expect(links.interfaces.map(\.name) == ["lo", "veth0"])
        #expect(links.interfaces.map(\.isLoopback) == [true, false])
        #expect(links.addresses == [IPv4Address(198, 18, 0, 2)])
        #expect(links.broadcasts == [IPv4Address(198, 18, 0, 255)])
    }

    @Test func readsServersFromTheConfiguredFiles() {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let resolv = directory.write("resolv.conf", "nameserver 198.18.9.53\n")
        let route = directory.write(
            "route",
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                + "veth0\t00000000\tFE0012C6\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        )
        _ = directory.write("lease-a", "SERVER_ADDRESS=198.18.0.1\n")
        _ = directory.write("lease-b", "lease {\n  option dhcp-server-identifier 198.18.0.1;\n}\n")
        let info = LinuxHostInfoSource(
            resolvConf: resolv,
            routeTable: route,
            leaseDirectories: [directory.path, directory.file("missing")]
        ).current()
        #expect(info.dnsServers == [IPv4Address(198, 18, 9, 53)])
        #expect(info.defaultGateways == [IPv4Address(198, 18, 0, 254)])
        #expect(info.dhcpServers == [IPv4Address(198, 18, 0, 1)])
    }
}
