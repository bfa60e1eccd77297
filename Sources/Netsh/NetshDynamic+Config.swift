import PolicyModel

/// `set config` and `show config`.
extension NetshDynamicSession {
    static let configCommands: [NetshCommand<NetshDynamicSession>] = [
        NetshCommand(
            "set",
            "config",
            summary: "Sets the IPsec configuration and boot-time behavior.",
            parameters: [
                NetshParameter(
                    "property",
                    "(ipsecdiagnostics | ikelogging | strongcrlcheck | ipsecloginterval | ipsecexempt | bootmode | bootexemptions)",
                    "The property to set."
                ),
                NetshParameter("value", "<value>", "The new value of the property."),
            ],
            required: [["property"], ["value"]],
            remarks: [
                "ipsecdiagnostics 0-7 (default 0); ikelogging 0-1 (default 0); strongcrlcheck 0-2 (default 0); ipsecloginterval 60-86400 seconds (default 3600); ipsecexempt 0-3 (default 3).",
                "bootmode stateful, block or permit (default: stateful when a policy is assigned, permit otherwise).",
                "bootexemptions: protocol:srcport:dstport:direction entries separated by spaces, protocol ICMP, TCP, UDP, RAW or a number, direction inbound or outbound; none clears the list.",
                "The settings persist across service restarts; ipsecexempt, bootmode and bootexemptions take effect at the next computer startup.",
            ],
            examples: [
                "set config property=ipsecdiagnostics value=7",
                "set config property=bootexemptions value=\"tcp:0:3389:inbound udp:0:53:outbound\"",
            ],
            run: edit(setConfig)
        )
    ]

    func setConfig(_ arguments: NetshArguments, _ spd: inout NetshSPD) throws(NetshError) -> String {
        let property = try arguments.choice("property", DynamicSettings.properties.map { ($0, $0) }) ?? ""
        do {
            try spd.settings.set(property: property, value: arguments.string("value") ?? "")
        } catch {
            throw NetshError(error.message)
        }
        if property == "ipsecexempt" { return "The new default exemptions take effect at the next computer startup.\n" }
        return ""
    }

    func renderConfig(_ config: DynamicSettings) -> String {
        var text = NetshText()
        text.heading("System configuration parameters")
        text.field("IPsec Diagnostics", "\(config.diagnostics)")
        text.field("IKE Logging", "\(config.ikeLogging)")
        text.field("Strong CRL Check", "\(config.strongCRLCheck)")
        text.field("IPsec Log Interval", "\(config.logIntervalSeconds) seconds")
        text.field("IPsec Exemptions", "\(config.exemptionLevel)")
        text.field(
            "Boot Mode",
            config.bootMode?.rawValue.uppercased() ?? "DEFAULT (STATEFUL IF A POLICY IS ASSIGNED, ELSE PERMIT)"
        )
        if config.bootExemptions.isEmpty {
            text.field("Boot Exemptions", "<None>")
        } else {
            text.line("Boot Exemptions(\(config.bootExemptions.count))")
            let rows = config.bootExemptions.map { exemption in
                [
                    IPProtocol.name(exemption.ipProtocol),
                    String(exemption.sourcePort), String(exemption.destinationPort),
                    exemption.direction.rawValue.uppercased(),
                ]
            }
            text.table([("Protocol", 12), ("Src Port", 8), ("Dst Port", 8), ("Direction", 9)], rows, wide: true)
        }
        return text.text
    }
}
