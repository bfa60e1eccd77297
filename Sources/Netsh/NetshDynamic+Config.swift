import PolicyModel

/// `set config` and `show config`.
extension NetshDynamicSession {
    static let configProperties = [
        "ipsecdiagnostics", "ikelogging", "strongcrlcheck", "ipsecloginterval", "ipsecexempt", "bootmode",
        "bootexemptions",
    ]

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

    func setConfig(_ arguments: NetshArguments, _ state: inout DynamicState) throws(NetshError) -> String {
        let property = try arguments.choice("property", Self.configProperties.map { ($0, $0) }) ?? ""
        let value = arguments.string("value") ?? ""
        func integer(_ range: ClosedRange<Int>) throws(NetshError) -> Int {
            guard let number = Int(value), range.contains(number) else {
                throw .invalidValue(
                    "value",
                    value,
                    accepted: "an integer from \(range.lowerBound) to \(range.upperBound) for \(property)"
                )
            }
            return number
        }
        switch property {
        case "ipsecdiagnostics": state.config.ipsecDiagnostics = try integer(0...7)
        case "ikelogging": state.config.ikeLogging = try integer(0...1)
        case "strongcrlcheck": state.config.strongCRLCheck = try integer(0...2)
        case "ipsecloginterval": state.config.ipsecLogInterval = try integer(60...86_400)
        case "ipsecexempt":
            state.config.ipsecExempt = try integer(0...3)
            return "The new default exemptions take effect at the next computer startup.\n"
        case "bootmode":
            guard let mode = NetshBootMode(rawValue: value.lowercased()) else {
                throw .invalidValue("value", value, accepted: "stateful, block, permit for bootmode")
            }
            state.config.bootMode = mode
        default:
            state.config.bootExemptions = try NetshBootExemption.parseList(value)
        }
        return ""
    }

    func renderConfig(_ config: DynamicConfig) -> String {
        var text = NetshText()
        text.heading("System configuration parameters")
        text.field("IPsec Diagnostics", "\(config.ipsecDiagnostics)")
        text.field("IKE Logging", "\(config.ikeLogging)")
        text.field("Strong CRL Check", "\(config.strongCRLCheck)")
        text.field("IPsec Log Interval", "\(config.ipsecLogInterval) seconds")
        text.field("IPsec Exemptions", "\(config.ipsecExempt)")
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
