/// The settings of `netsh ipsec dynamic set config` (windows-ipsec.md §4.3–4.5), with the one parser
/// for their netsh spelling.
///
/// The one definition: the service persists it (`dynamic-settings.conf`) and applies it, netsh sets and
/// shows it, `ipsecsvc boot` reads the startup mode from it, and the driver gets its part as
/// `DriverSettings`.
public struct DynamicSettings: Hashable, Sendable, Codable {
    /// The property names `set config` accepts, in `show config` order.
    public static let properties = [
        "ipsecdiagnostics", "ikelogging", "strongcrlcheck", "ipsecloginterval", "ipsecexempt", "bootmode",
        "bootexemptions",
    ]

    /// `bootmode`; `nil` means the default: stateful if any policy is assigned, otherwise permit.
    public var bootMode: StartupMode?
    /// `bootexemptions`: traffic allowed in the stateful and block startup modes (DHCP is always allowed).
    public var bootExemptions: [BootExemption] = []
    /// `ipsecdiagnostics` 0–7: driver event logging (0 off).
    public var diagnostics: Int = 0
    /// `ipsecexempt` 0–3: the default exemptions (`NoDefaultExempt`); 3 is Windows Server 2003's default.
    public var exemptionLevel: Int = 3
    /// `ipsecloginterval`, seconds between the driver's summary events, 60–86 400.
    public var logIntervalSeconds: Int = 3600
    /// `ikelogging` 0–1: IKE (Oakley) logging.
    public var ikeLogging: Int = 0
    /// `strongcrlcheck` 0–2: 0 no CRL check, 1 fail only if revoked, 2 fail on any CRL error.
    public var strongCRLCheck: Int = 0

    public init() {}

    /// An invalid `set config` property or value; the message is one sentence naming the property and
    /// the values it accepts.
    public struct SettingError: Error, Hashable, Sendable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// Sets one property from its netsh spelling (`set config property=P value=V`); the property
    /// name and keyword values in any letter case.
    public mutating func set(property: String, value: String) throws(SettingError) {
        let name = property.lowercased()
        func integer(_ range: ClosedRange<Int>) throws(SettingError) -> Int {
            guard let number = Int(value), range.contains(number) else {
                throw SettingError(
                    "The value \"\(value)\" is not valid for \(name). Accepted values: an integer from \(range.lowerBound) to \(range.upperBound)."
                )
            }
            return number
        }
        switch name {
        case "ipsecdiagnostics": diagnostics = try integer(0...7)
        case "ikelogging": ikeLogging = try integer(0...1)
        case "strongcrlcheck": strongCRLCheck = try integer(0...2)
        case "ipsecloginterval": logIntervalSeconds = try integer(60...86_400)
        case "ipsecexempt": exemptionLevel = try integer(0...3)
        case "bootmode":
            guard let mode = StartupMode(rawValue: value.lowercased()) else {
                throw SettingError(
                    "The value \"\(value)\" is not valid for bootmode. Accepted values: stateful, block, permit."
                )
            }
            bootMode = mode
        case "bootexemptions":
            bootExemptions = try Self.parseExemptions(value)
        default:
            throw SettingError(
                "\"\(property)\" is not a configuration property. Accepted values: \(Self.properties.joined(separator: ", "))."
            )
        }
    }

    /// The netsh spelling of one property's value (what ``set(property:value:)`` reads back).
    public func value(of property: String) -> String? {
        switch property.lowercased() {
        case "ipsecdiagnostics": String(diagnostics)
        case "ikelogging": String(ikeLogging)
        case "strongcrlcheck": String(strongCRLCheck)
        case "ipsecloginterval": String(logIntervalSeconds)
        case "ipsecexempt": String(exemptionLevel)
        case "bootmode": bootMode?.rawValue ?? "default"
        case "bootexemptions":
            bootExemptions.isEmpty ? "none" : bootExemptions.map(\.description).joined(separator: " ")
        default: nil
        }
    }

    /// Parses a `bootexemptions` list: entries `protocol:srcport:dstport:direction` separated by spaces
    /// (commas and tabs too); `none` (or nothing) is the empty list. Ports are valid only with TCP or UDP.
    public static func parseExemptions(_ text: String) throws(SettingError) -> [BootExemption] {
        let items = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" || $0 == "\n" })
        if items.isEmpty || (items.count == 1 && items[0].lowercased() == "none") { return [] }
        var result: [BootExemption] = []
        for item in items {
            guard let exemption = BootExemption(parsing: item) else {
                throw SettingError(
                    "The boot exemption \"\(item)\" is not valid. Accepted values: protocol:srcport:dstport:direction entries separated by spaces (e.g. tcp:0:3389:inbound), or none."
                )
            }
            let number = exemption.ipProtocol
            if number != IPProtocol.tcp && number != IPProtocol.udp
                && (exemption.sourcePort != 0 || exemption.destinationPort != 0)
            {
                throw SettingError(
                    "The boot exemption \"\(item)\" gives ports for protocol \(IPProtocol.name(number)); ports are valid only with TCP or UDP."
                )
            }
            result.append(exemption)
        }
        return result
    }

    /// The DHCP client exchange, always allowed in the stateful and block startup modes.
    public static let dhcpExemptions = [
        BootExemption(ipProtocol: IPProtocol.udp, sourcePort: 68, destinationPort: 67, direction: .outbound),
        BootExemption(ipProtocol: IPProtocol.udp, sourcePort: 67, destinationPort: 68, direction: .inbound),
    ]
}

extension DynamicSettings {
    /// The properties that do not change a running system: `ipsecexempt` takes effect when the service
    /// next starts (Windows: at the next computer startup, windows-ipsec.md §4.3), `bootmode` and
    /// `bootexemptions` at the next computer startup (`ipsecsvc boot`, §4.4). The others apply at once.
    public static let bootTimeProperties: Set<String> = ["ipsecexempt", "bootmode", "bootexemptions"]

    /// These settings (in force) with the properties of `configured` that apply at once.
    public func applyingImmediateProperties(of configured: DynamicSettings) -> DynamicSettings {
        var result = configured
        result.exemptionLevel = exemptionLevel
        result.bootMode = bootMode
        result.bootExemptions = bootExemptions
        return result
    }
}

/// The `set config` settings as configured and as in force: what `netsh ipsec dynamic show config` and
/// `ipsecsvc status` show.
public struct DynamicSettingsState: Hashable, Sendable, Codable {
    /// As last set (`dynamic-settings.conf`).
    public var configured: DynamicSettings
    /// What the running service uses: `ipsecexempt` as it was when the service started, the rest as
    /// configured.
    public var service: DynamicSettings
    /// What the computer startup step (`ipsecsvc boot`) applied at this startup; `nil` when it did not
    /// run since the computer started.
    public var boot: DynamicSettings?

    public init(configured: DynamicSettings, service: DynamicSettings, boot: DynamicSettings?) {
        self.configured = configured
        self.service = service
        self.boot = boot
    }

    /// The boot-time properties whose configured value is not in force yet, in `show config` order.
    public var pending: [String] {
        DynamicSettings.properties.filter { property in
            guard DynamicSettings.bootTimeProperties.contains(property) else { return false }
            let wanted = configured.value(of: property)
            if property == "ipsecexempt" { return service.value(of: property) != wanted }
            // Nothing applied at this startup: a setting other than the default waits for the next one.
            return (boot ?? DynamicSettings()).value(of: property) != wanted
        }
    }

    /// When a pending property takes effect.
    public static func takesEffect(_ property: String) -> String {
        property == "ipsecexempt" ? "at the next service start" : "at the next computer startup"
    }

    /// The value in force of a property, in its netsh spelling.
    public func inForce(_ property: String) -> String? {
        switch property {
        case "bootmode", "bootexemptions": (boot ?? DynamicSettings()).value(of: property)
        default: service.value(of: property)
        }
    }
}
