public import DecisionCore
public import Driver
import IPsecSystem
public import PolicyModel
import Providers
import Synchronization

/// The persisted settings of `netsh ipsec dynamic set config` (windows-ipsec.md §4.3–4.5). They live in
/// `dynamic-settings.conf` in the state directory and survive restarts and reboots.
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
    /// `ipsecdiagnostics` 0–7.
    public var diagnostics: Int = 0
    /// `ipsecexempt` 0–3.
    public var exemptionLevel: Int = 3
    /// `ipsecloginterval`, seconds, 60–86 400.
    public var logIntervalSeconds: Int = 3600
    /// `ikelogging` 0–1.
    public var ikeLogging: Int = 0
    /// `strongcrlcheck` 0–2.
    public var strongCRLCheck: Int = 0

    public init() {}

    /// What the driver needs of these settings.
    public var driverSettings: DriverSettings {
        DriverSettings(
            exemptionLevel: exemptionLevel,
            diagnosticsLevel: diagnostics,
            logIntervalSeconds: logIntervalSeconds
        )
    }

    /// An invalid `set config` property or value; the message is one sentence for the user.
    public struct SettingError: Error, Hashable, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Sets one property from its netsh spelling (`set config property=P value=V`).
    public mutating func set(property: String, value: String) throws(SettingError) {
        let name = property.lowercased()
        func integer(_ range: ClosedRange<Int>) throws(SettingError) -> Int {
            guard let number = Int(value), range.contains(number) else {
                throw SettingError(
                    message:
                        "The value '\(value)' is not valid for \(name): expected \(range.lowerBound)–\(range.upperBound)."
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
                    message: "The value '\(value)' is not valid for bootmode: expected permit, stateful or block."
                )
            }
            bootMode = mode
        case "bootexemptions":
            bootExemptions = try Self.parseExemptions(value)
        default:
            throw SettingError(
                message:
                    "'\(property)' is not a configuration property; expected one of \(Self.properties.joined(separator: ", "))."
            )
        }
    }

    /// The netsh spelling of one property's value.
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
    /// or commas; `none` (or nothing) is the empty list.
    public static func parseExemptions(_ text: String) throws(SettingError) -> [BootExemption] {
        let trimmed = text.trimmingWhitespace()
        if trimmed.isEmpty || trimmed.lowercased() == "none" { return [] }
        var result: [BootExemption] = []
        for item in trimmed.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }) {
            guard let exemption = BootExemption(parsing: item) else {
                throw SettingError(
                    message:
                        "The boot exemption '\(item)' is not valid: expected protocol:srcport:dstport:direction, e.g. tcp:0:3389:inbound."
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

/// The state files in the state directory that the service host owns: the startup type
/// (`service-state`) and the dynamic `set config` settings (`dynamic-settings.conf`, the file
/// Providers' `StateDirectory.dynamicSettings` names, in its `key=value` form). Every write is atomic
/// and durable.
public struct ServiceStateStore: Sendable {
    public var directory: String

    public init(directory: String) { self.directory = directory }

    public var serviceStatePath: String { directory + "/service-state" }
    public var dynamicConfigPath: String { StateDirectory(path: directory).dynamicSettings }

    /// The recorded startup type, or `nil` when `service config` never ran.
    public func startType() throws(ConfigurationError) -> StartupType? {
        guard let file = try readFile(serviceStatePath) else { return nil }
        var result: StartupType?
        for entry in file.entries {
            switch entry.key {
            case "start_type":
                guard let type = StartupType(parsing: entry.value) else {
                    throw ConfigurationError(
                        path: file.path,
                        line: entry.line,
                        message: "invalid value '\(entry.value)' for 'start_type'"
                    )
                }
                result = type
            default:
                throw ConfigurationError(path: file.path, line: entry.line, message: "unknown key '\(entry.key)'")
            }
        }
        return result
    }

    /// The startup type in force: the recorded one, else the configuration's default.
    public func effectiveStartType(_ configuration: ServiceConfiguration) throws(ConfigurationError) -> StartupType {
        try startType() ?? configuration.startType
    }

    /// Records the startup type.
    public func setStartType(_ type: StartupType) throws {
        try FileSystem.makeDirectories(directory, mode: 0o750)
        let text = KeyValueFile.render(
            comment: "Written by `ipsecsvc service config`; the startup type in force.",
            [("start_type", type.rawValue)]
        )
        try DurableFile.write(Array(text.utf8), to: serviceStatePath, permissions: 0o640)
    }

    /// The dynamic settings as persisted (defaults when never set), read without the store lock: for
    /// callers that already hold it or that only start the service. ``lockedDynamicSettings()`` takes it.
    public func dynamicSettings() throws(ConfigurationError) -> DynamicSettings {
        var settings = DynamicSettings()
        guard let file = try readFile(dynamicConfigPath) else { return settings }
        for entry in file.entries {
            if entry.key == "bootmode" && entry.value == "default" { continue }
            do {
                try settings.set(property: entry.key, value: entry.value)
            } catch {
                throw ConfigurationError(path: file.path, line: entry.line, message: error.message)
            }
        }
        return settings
    }

    /// The persisted dynamic settings, read under the store lock (blocking: call it off the cooperative
    /// pool).
    public func lockedDynamicSettings() throws -> DynamicSettings {
        try StateDirectoryLock.withLock(directory) { try dynamicSettings() }
    }

    /// The one way to change the persisted dynamic settings: under the store lock, re-reads
    /// `dynamic-settings.conf`, applies `change` to what it holds now and writes the result atomically,
    /// so concurrent writers (the service's `config.set`, the offline fallback) never lose each other's
    /// changes. Blocking: call it off the cooperative pool.
    /// - Parameter lockHeld: the caller already holds ``StateDirectoryLock`` (flock is not re-entrant).
    @discardableResult
    public func changeDynamicSettings(
        lockHeld: Bool = false,
        _ change: (inout DynamicSettings) throws -> Void
    ) throws -> DynamicSettings {
        try changeDynamicSettingsInOrder(lockHeld: lockHeld, change).settings
    }

    /// ``changeDynamicSettings(lockHeld:_:)`` that also returns the change's place among this
    /// process's changes (taken under the lock, so it follows the order of the writes): the running
    /// agent applies a change only if no later one reached it first
    /// (``PolicyAgent/updateSettings(_:revision:)``).
    public func changeDynamicSettingsInOrder(
        lockHeld: Bool = false,
        _ change: (inout DynamicSettings) throws -> Void
    ) throws -> (settings: DynamicSettings, revision: UInt64) {
        func update() throws -> (settings: DynamicSettings, revision: UInt64) {
            var settings = try dynamicSettings()
            try change(&settings)
            try writeDynamicSettings(settings)
            return (
                settings,
                dynamicSettingsRevision.withLock { revision in
                    revision += 1
                    return revision
                }
            )
        }
        return lockHeld ? try update() : try StateDirectoryLock.withLock(directory, update)
    }

    private func writeDynamicSettings(_ settings: DynamicSettings) throws {
        try FileSystem.makeDirectories(directory, mode: 0o750)
        let text = DynamicSettings.properties.compactMap { name -> String? in
            if name == "bootmode" && settings.bootMode == nil { return nil }
            return settings.value(of: name).map { "\(name)=\($0)\n" }
        }.joined()
        try DurableFile.write(Array(text.utf8), to: dynamicConfigPath, permissions: 0o640)
    }

    private func readFile(_ path: String) throws(ConfigurationError) -> KeyValueFile? {
        let text: String?
        do {
            text = try FileSystem.readTextIfPresent(path, limit: 1 << 20)
        } catch {
            throw ConfigurationError(path: path, line: 0, message: "cannot be read: \(error)")
        }
        guard let text else { return nil }
        return try KeyValueFile(path: path, text: text)
    }
}

/// Counts this process's writes of the dynamic settings (see
/// ``ServiceStateStore/changeDynamicSettingsInOrder(lockHeld:_:)``).
private let dynamicSettingsRevision = Mutex<UInt64>(0)
