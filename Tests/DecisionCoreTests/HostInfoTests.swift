import DecisionCore
import PolicyModel
import Testing

@Suite struct HostConfigurationTextTests {
    @Test func parsesResolvConf() {
        let text = "# comment\nnameserver 198.18.9.53\nnameserver ::1\nsearch example\nnameserver\t198.18.9.54\n"
        #expect(HostConfigurationText.nameservers(text) == [IPv4Address(198, 18, 9, 53), IPv4Address(198, 18, 9, 54)])
    }

    /// Only default routes count: destination 0 with mask 0 (a host route to 0.0.0.0/32 is not one).
    @Test func parsesDefaultRoutes() {
        let text = """
            Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
            veth0\t00000000\tFE0012C6\t0003\t0\t0\t0\t00000000\t0\t0\t0
            veth0\t000012C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
            veth1\t00000000\tFD0012C6\t0007\t0\t0\t0\tFFFFFFFF\t0\t0\t0
            veth2\t00000000\tFE0012C6\t0003\t0\t0\t100\t00000000\t0\t0\t0
            """
        #expect(HostConfigurationText.defaultGateways(text) == [IPv4Address(198, 18, 0, 254)])
    }

    @Test func parsesLeases() {
        #expect(
            HostConfigurationText.dhcpServers("ADDRESS=198.18.0.2\nSERVER_ADDRESS=198.18.0.1\n") == [
                IPv4Address(198, 18, 0, 1)
            ]
        )
        #expect(
            HostConfigurationText.dhcpServers("lease {\n  option dhcp-server-identifier 198.18.0.9;\n}\n")
                == [IPv4Address(198, 18, 0, 9)]
        )
        #expect(
            HostConfigurationText.dhcpServers("option dhcp-server-identifier 198.18.0.9 ;\r\n") == [
                IPv4Address(198, 18, 0, 9)
            ]
        )
    }

    @Test func readsTheDeviceType() {
        #expect(HostConfigurationText.deviceType("INTERFACE=wwan0\nIFINDEX=5\nDEVTYPE=wwan\n") == "wwan")
        #expect(HostConfigurationText.deviceType("INTERFACE=eth0\nIFINDEX=2\n") == nil)
    }
}

@Suite struct InterfaceClassifierTests {
    let classifier = InterfaceClassifier(dialupPatterns: ["tun-dial*", "wg[0-9]"])

    @Test(arguments: [
        ("ppp0", UInt16(512), nil as String?, InterfaceKind.remoteAccess),
        ("sl0", 256, nil, .remoteAccess),
        ("isdn0", 518, nil, .remoteAccess),
        ("wwan0", 519, nil, .remoteAccess),
        ("wwan1", 1, "wwan", .remoteAccess),
        ("eth0", 1, nil, .lan),
        ("veth-a", 1, nil, .lan),
        ("br0", 1, "bridge", .lan),
        ("tun0", 65534, nil, .lan),
        ("tun-dialin3", 65534, nil, .remoteAccess),
        ("wg7", 65534, nil, .remoteAccess),
        ("wg17", 65534, nil, .lan),
        ("lo", 772, nil, .loopback),
    ])
    func classifiesByKernelTypeDeviceTypeAndPattern(
        name: String,
        hardwareType: UInt16,
        deviceType: String?,
        expected: InterfaceKind
    ) {
        #expect(classifier.classify(name: name, hardwareType: hardwareType, deviceType: deviceType).kind == expected)
    }

    @Test func saysWhy() {
        #expect(classifier.classify(name: "wg1", hardwareType: 65534, deviceType: nil).reason.contains("wg[0-9]"))
        #expect(classifier.classify(name: "ppp0", hardwareType: 512, deviceType: nil).reason.contains("512"))
    }

    @Test func connectionTypesSelectKinds() {
        #expect(InterfaceKind.lan.isSelected(by: .all) && InterfaceKind.remoteAccess.isSelected(by: .all))
        #expect(InterfaceKind.lan.isSelected(by: .lan) && !InterfaceKind.lan.isSelected(by: .dialUp))
        #expect(InterfaceKind.remoteAccess.isSelected(by: .dialUp) && !InterfaceKind.remoteAccess.isSelected(by: .lan))
    }
}

@Suite struct ShellPatternTests {
    @Test(arguments: [
        ("ppp*", "ppp0", true), ("ppp*", "ppp", true), ("ppp*", "eth0", false),
        ("*", "", true), ("", "", true), ("", "a", false),
        ("?", "a", true), ("?", "", false), ("a?c", "abc", true), ("a?c", "ac", false),
        ("*dial*", "tun-dialin", true), ("*a*b", "xaxxb", true), ("*a*b", "xaxxbc", false),
        ("[abc]x", "bx", true), ("[a-c]x", "dx", false), ("[!a-c]x", "dx", true), ("[^a-c]x", "ax", false),
        ("[]]", "]", true), ("[", "[", true), ("a\\*", "a*", true), ("a\\*", "ab", false),
        ("wg[0-9]", "wg5", true), ("wg[0-9]", "wg55", false),
    ])
    func matchesLikeFnmatch(pattern: String, text: String, expected: Bool) {
        #expect(ShellPattern.matches(pattern, text) == expected)
    }
}
