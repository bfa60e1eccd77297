import DecisionCore
import Driver
import Glibc
import IPsecTestKit
import PolicyModel
import Testing

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
