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
        switch property {
        case "ipsecexempt":
            return
                "The new default exemptions take effect when the IPsec service next starts (at the latest at the next computer startup).\n"
        case "bootmode": return "The new boot mode takes effect at the next computer startup.\n"
        case "bootexemptions": return "The new boot exemptions take effect at the next computer startup.\n"
        default: return ""
        }
    }

    /// `show config`: the values in force; a boot-time value set but not in force yet is shown with
    /// the value that waits and when it takes effect.
    func renderConfig(_ state: DynamicSettingsState) -> String {
        let config = state.configured
        let pending = Set(state.pending)
        func waiting(_ property: String, _ value: String) -> String {
            guard pending.contains(property) else { return "" }
            return " (pending: \(value), \(DynamicSettingsState.takesEffect(property)))"
        }
        func bootMode(_ mode: StartupMode?) -> String {
            mode?.rawValue.uppercased() ?? "DEFAULT (STATEFUL IF A POLICY IS ASSIGNED, ELSE PERMIT)"
        }
        let boot = state.boot ?? DynamicSettings()
        var text = NetshText()
        text.heading("System configuration parameters")
        text.field("IPsec Diagnostics", "\(config.diagnostics)")
        text.field("IKE Logging", "\(config.ikeLogging)")
        text.field("Strong CRL Check", "\(config.strongCRLCheck)")
        text.field("IPsec Log Interval", "\(config.logIntervalSeconds) seconds")
        text.field(
            "IPsec Exemptions",
            "\(state.service.exemptionLevel)" + waiting("ipsecexempt", "\(config.exemptionLevel)")
        )
        text.field("Boot Mode", bootMode(boot.bootMode) + waiting("bootmode", bootMode(config.bootMode)))
        if boot.bootExemptions.isEmpty {
            text.field("Boot Exemptions", "<None>")
        } else {
            text.line("Boot Exemptions(\(boot.bootExemptions.count))")
            let rows = boot.bootExemptions.map { exemption in
                [
                    IPProtocol.name(exemption.ipProtocol),
                    String(exemption.sourcePort), String(exemption.destinationPort),
                    exemption.direction.rawValue.uppercased(),
                ]
            }
            text.table([("Protocol", 12), ("Src Port", 8), ("Dst Port", 8), ("Direction", 9)], rows, wide: true)
        }
        if pending.contains("bootexemptions") {
            text.field(
                "Pending Boot Exemptions",
                (config.value(of: "bootexemptions") ?? "none") + ", "
                    + DynamicSettingsState.takesEffect("bootexemptions")
            )
        }
        if state.boot == nil, !pending.isDisjoint(with: ["bootmode", "bootexemptions"]) {
            text.line("(ipsecsvc boot has not run since this computer started.)")
        }
        return text.text
    }
}
