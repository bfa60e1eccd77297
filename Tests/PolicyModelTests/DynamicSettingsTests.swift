import PolicyModel
import Testing

/// The one parser of the `set config` settings (netsh, the control socket and the state file all use it).
@Suite struct DynamicSettingsTests {
    @Test func setAndValidate() throws {
        var settings = DynamicSettings()
        #expect(settings.exemptionLevel == 3)
        #expect(settings.logIntervalSeconds == 3600)
        try settings.set(property: "bootmode", value: "Block")
        try settings.set(property: "bootexemptions", value: "tcp:0:3389:inbound udp:0:53:outbound")
        try settings.set(property: "ipsecdiagnostics", value: "7")
        try settings.set(property: "ipsecexempt", value: "0")
        try settings.set(property: "ipsecloginterval", value: "60")
        try settings.set(property: "ikelogging", value: "1")
        try settings.set(property: "StrongCRLCheck", value: "2")
        #expect(settings.bootMode == .block)
        #expect(settings.bootExemptions.count == 2)
        #expect(settings.value(of: "bootexemptions") == "TCP:0:3389:inbound UDP:0:53:outbound")
        #expect(settings.strongCRLCheck == 2)
        let errors = [
            ("ipsecdiagnostics", "8", "an integer from 0 to 7"),
            ("ikelogging", "2", "an integer from 0 to 1"),
            ("strongcrlcheck", "3", "an integer from 0 to 2"),
            ("ipsecloginterval", "59", "an integer from 60 to 86400"),
            ("ipsecexempt", "4", "an integer from 0 to 3"),
            ("bootmode", "secure", "stateful, block, permit"),
            ("bootexemptions", "tcp:0:3389", "protocol:srcport:dstport:direction"),
            ("colour", "1", "ipsecdiagnostics, ikelogging"),
        ]
        for (property, value, accepted) in errors {
            #expect(throws: DynamicSettings.SettingError.self) { try settings.set(property: property, value: value) }
            do {
                try settings.set(property: property, value: value)
            } catch {
                #expect(error.message.contains(accepted), "\(property)=\(value): \(error.message)")
                #expect(error.message.contains("\"\(value)\"") || error.message.contains(property))
            }
        }
        try settings.set(property: "bootexemptions", value: "none")
        #expect(settings.bootExemptions.isEmpty)
    }

    /// One list syntax wherever the list comes from: spaces (netsh's), commas or tabs; `none` is empty;
    /// ports only with TCP or UDP.
    @Test func bootExemptionLists() throws {
        let list = try DynamicSettings.parseExemptions(
            "tcp:0:3389:inbound UDP:68:67:outbound icmp:0:0:inbound 47:0:0:outbound"
        )
        #expect(
            list.map(\.description) == [
                "TCP:0:3389:inbound", "UDP:68:67:outbound", "ICMP:0:0:inbound", "47:0:0:outbound",
            ]
        )
        #expect(try DynamicSettings.parseExemptions("tcp:0:22:inbound,udp:0:53:outbound\tTCP:0:80:inbound").count == 3)
        #expect(try DynamicSettings.parseExemptions("none").isEmpty)
        #expect(try DynamicSettings.parseExemptions("  ").isEmpty)
        for bad in ["tcp:0:3389", "tcp:0:3389:sideways", "icmp:5:0:inbound", "tcp:x:1:inbound", "foo:0:0:inbound"] {
            #expect(throws: DynamicSettings.SettingError.self) { try DynamicSettings.parseExemptions(bad) }
        }
    }

    /// Every property reads back what it was set to.
    @Test func valuesRoundTrip() throws {
        var settings = DynamicSettings()
        #expect(settings.value(of: "bootmode") == "default")
        try settings.set(property: "bootmode", value: "stateful")
        try settings.set(property: "bootexemptions", value: "tcp:0:22:inbound")
        var copy = DynamicSettings()
        for property in DynamicSettings.properties {
            try copy.set(property: property, value: try #require(settings.value(of: property)))
        }
        #expect(copy == settings)
    }
}
